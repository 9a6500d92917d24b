//! RFC 2782's order of SRV records: ascending priority, and within a priority a weighted random
//! draw, weight-0 records first so that they keep a small chance.

/// One SRV record, as RFC 2782 orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Share within a priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host name.
    pub target: String,
}

/// Orders SRV records by RFC 2782: ascending priority; within a priority, a weighted random order
/// where `pick(total)` returns a number in `0..=total`.
pub fn order_srv(mut records: Vec<SrvRecord>, pick: &mut impl FnMut(u32) -> u32) -> Vec<SrvRecord> {
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut i = 0;
    while i < records.len() {
        let prio = records[i].priority;
        let mut group: Vec<SrvRecord> = records[i..]
            .iter()
            .take_while(|r| r.priority == prio)
            .cloned()
            .collect();
        i += group.len();
        // Weight-0 records first, so they get a small chance (RFC 2782, "Usage rules").
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let chosen = pick(total).min(total);
            let mut running = 0u32;
            let idx = group
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= chosen
                })
                .unwrap_or(0);
            out.push(group.remove(idx));
        }
    }
    out
}

pub(super) fn random_pick(total: u32) -> u32 {
    use rand::Rng;
    rand::rng().random_range(0..=total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    #[test]
    fn srv_priority_first_then_weight() {
        let records = vec![srv(20, 0, "c"), srv(10, 10, "a"), srv(10, 90, "b")];
        // pick returns the top of the range: the last record whose running sum reaches it.
        let order: Vec<String> = order_srv(records.clone(), &mut |total| total)
            .into_iter()
            .map(|r| r.target)
            .collect();
        assert_eq!(order, ["b", "a", "c"]);
        // pick returns 1: the first record with weight.
        let order: Vec<String> = order_srv(records, &mut |total| total.min(1))
            .into_iter()
            .map(|r| r.target)
            .collect();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn weight_zero_records_come_first_in_the_draw_and_rarely_win() {
        let records = vec![srv(10, 50, "heavy"), srv(10, 0, "zero")];
        let first = order_srv(records.clone(), &mut |_| 0);
        assert_eq!(
            first[0].target, "zero",
            "a pick of 0 selects the weight-0 record"
        );
        let first = order_srv(records, &mut |total| total / 2);
        assert_eq!(first[0].target, "heavy");
    }
}
