//! The accounts of a storm: a CSV file with a header (`user,password` and optionally `auth_user`,
//! `domain`), every line checked, duplicates refused, and `--shard K/N`.

use std::collections::HashMap;

/// `--shard K/N`: this copy takes the accounts whose index modulo N is K (K from 0 to N − 1, as a
/// Kubernetes Indexed Job's `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This copy, from 0.
    pub index: usize,
    /// The number of copies.
    pub count: usize,
}

impl Shard {
    /// Parses `K/N`.
    ///
    /// # Errors
    /// One line naming the value.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not K/N with 0 ≤ K < N (example: 0/4)");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// True when this copy takes the account at `index` (0-based, in file order).
    #[must_use]
    pub fn takes(&self, index: usize) -> bool {
        index % self.count == self.index
    }
}

/// One account.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// User part of the address of record.
    pub user: String,
    /// Digest password (empty: none).
    pub password: String,
    /// Digest user name, when not the user.
    pub auth_user: Option<String>,
    /// Domain of the address of record, when not the storm's.
    pub domain: Option<String>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("user", &self.user)
            .field("auth_user", &self.auth_user)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// Splits one CSV line into fields: commas separate, double quotes enclose a field with commas or
/// quotes (`""` is a quote), RFC 4180.
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote inside an unquoted field".into()),
            (false, ',') => {
                out.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, c) if was_quoted && !c.is_whitespace() => {
                return Err("text after a closing quote".into());
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    out.push(field);
    Ok(out)
}

/// The columns of the header, by position.
struct Columns {
    user: usize,
    password: usize,
    auth_user: Option<usize>,
    domain: Option<usize>,
    count: usize,
}

fn columns(header: &str) -> Result<Columns, String> {
    let names: Vec<String> = fields(header)?
        .into_iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let find = |name: &str| names.iter().position(|n| n == name);
    for n in &names {
        if !matches!(n.as_str(), "user" | "password" | "auth_user" | "domain") {
            return Err(format!(
                "unknown column {n:?} (columns: user, password, auth_user, domain)"
            ));
        }
        if names.iter().filter(|m| *m == n).count() > 1 {
            return Err(format!("column {n:?} appears twice"));
        }
    }
    Ok(Columns {
        user: find("user").ok_or("the header has no user column (user,password)")?,
        password: find("password").ok_or("the header has no password column (user,password)")?,
        auth_user: find("auth_user"),
        domain: find("domain"),
        count: names.len(),
    })
}

/// Parses the accounts file; `name` names it in errors.
///
/// # Errors
/// One line naming the file and the line: a bad header, a line with the wrong number of fields, an
/// empty user, a user twice.
pub fn parse(name: &str, text: &str) -> Result<Vec<Account>, String> {
    // A spreadsheet's UTF-8 byte-order mark is not part of the first column's name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let (n, header) = lines
        .next()
        .ok_or_else(|| format!("{name}: no header line (user,password)"))?;
    let cols = columns(header).map_err(|e| format!("{name} line {n}: {e}"))?;
    let mut seen: HashMap<(String, Option<String>), usize> = HashMap::new();
    let mut accounts = Vec::new();
    for (n, line) in lines {
        let account = account(line, &cols).map_err(|e| format!("{name} line {n}: {e}"))?;
        let key = (
            account.user.clone(),
            account.domain.as_deref().map(str::to_ascii_lowercase),
        );
        if let Some(first) = seen.insert(key, n) {
            return Err(format!(
                "{name} line {n}: user {:?} is already on line {first}",
                account.user
            ));
        }
        accounts.push(account);
    }
    if accounts.is_empty() {
        return Err(format!("{name}: no accounts after the header"));
    }
    Ok(accounts)
}

fn account(line: &str, cols: &Columns) -> Result<Account, String> {
    let f = fields(line)?;
    if f.len() != cols.count {
        return Err(format!(
            "{} fields where the header has {}",
            f.len(),
            cols.count
        ));
    }
    let user = f[cols.user].trim().to_string();
    if user.is_empty() {
        return Err("the user is empty".into());
    }
    if user
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "@:;<>\"".contains(c))
    {
        return Err(format!(
            "user {user:?} cannot be the user part of a SIP URI"
        ));
    }
    let optional = |i: Option<usize>| i.map(|i| f[i].trim().to_string()).filter(|v| !v.is_empty());
    let auth_user = optional(cols.auth_user);
    let unquotable = |a: &&str| a.chars().any(|c| c.is_control() || c == '"' || c == '\\');
    if let Some(a) = auth_user.as_deref().filter(unquotable) {
        return Err(format!(
            "auth_user {a:?} cannot be a digest user name (no quotes, backslashes or control characters)"
        ));
    }
    let domain = optional(cols.domain);
    if let Some(d) = domain.as_deref().filter(|d| !is_host(d)) {
        return Err(format!("domain {d:?} is not a host name or IP address"));
    }
    Ok(Account {
        user,
        password: f[cols.password].clone(),
        auth_user,
        domain,
    })
}

/// A host name, IPv4 address or bracketed IPv6 address, as a SIP URI's host part holds.
fn is_host(d: &str) -> bool {
    if let Some(v6) = d.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !d.is_empty()
        && d.len() <= 253
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_read_with_optional_columns_and_quotes() {
        let text = "# the office\nuser,password,auth_user,domain\r\n1001,\"p,w\"\"1\",,\n\n1002,pw2,a1002,example.com\n";
        let a = parse("a.csv", text).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].user, "1001");
        assert_eq!(a[0].password, "p,w\"1");
        assert_eq!(
            (a[0].auth_user.as_deref(), a[0].domain.as_deref()),
            (None, None)
        );
        assert_eq!(a[1].auth_user.as_deref(), Some("a1002"));
        assert_eq!(a[1].domain.as_deref(), Some("example.com"));
        let b = parse("b.csv", "\u{feff}password,user\npw,alice\n").unwrap();
        assert_eq!(
            (b[0].user.as_str(), b[0].password.as_str()),
            ("alice", "pw")
        );
        assert!(!format!("{:?}", a[1]).contains("pw2"));
    }

    #[test]
    fn bad_lines_name_the_file_and_the_line() {
        let cases = [
            ("", "a.csv: no header line"),
            ("user,password\n", "no accounts"),
            ("user\n1\n", "line 1: the header has no password column"),
            ("user,password,pin\n", "line 1: unknown column \"pin\""),
            (
                "user,password\n1001,a,b\n",
                "line 2: 3 fields where the header has 2",
            ),
            ("user,password\n1001,\"a\n", "line 2: a quote is not closed"),
            ("user,password\n,pw\n", "line 2: the user is empty"),
            (
                "user,password\nbad user,pw\n",
                "line 2: user \"bad user\" cannot be",
            ),
            (
                "user,password\n1001,a\n1002,b\n1001,c\n",
                "line 4: user \"1001\" is already on line 2",
            ),
            (
                "user,password,domain\n1,a,ex ample.com\n",
                "line 2: domain \"ex ample.com\" is not a host",
            ),
            (
                "user,password,auth_user\n1,a,\"x\"\"y\"\n",
                "line 2: auth_user \"x\\\"y\" cannot be",
            ),
            (
                "user,password,domain\n1,a,X.com\n1,b,x.com\n",
                "line 3: user \"1\" is already on line 2",
            ),
        ];
        for (text, expected) in cases {
            let err = parse("a.csv", text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
            assert!(!err.contains('\n'));
        }
        // The same user in two domains is two accounts.
        assert!(parse("a.csv", "user,password,domain\n1,a,x.com\n1,a,y.com\n").is_ok());
    }

    #[test]
    fn shards_split_the_accounts_without_overlap() {
        assert_eq!(Shard::parse("1/3"), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (0..3).map(|k| Shard { index: k, count: 3 }).collect();
        for i in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.takes(i)).count(), 1);
        }
    }
}
