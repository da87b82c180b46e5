//! Route 53's choice among an RRset's records: MULTIVALUE answers up to eight healthy records in
//! random order, WEIGHTED one healthy record; when none is healthy both fail open and choose among
//! all of them.

use super::records::{Candidate, Routing};
use rand::seq::SliceRandom;
use rand::Rng;

/// The most records a MULTIVALUE answer carries.
pub const MULTIVALUE_MAX: usize = 8;

/// The records of one RRset (one name, one type, one service) that go into an answer.
pub fn select<R: Rng>(routing: Routing, candidates: Vec<Candidate>, rng: &mut R) -> Vec<Candidate> {
    // An RRset never holds the same data twice; a value is healthy when any instance behind it is.
    let mut unique: Vec<Candidate> = Vec::with_capacity(candidates.len());
    for c in candidates {
        match unique.iter_mut().find(|u| u.data == c.data) {
            Some(u) => u.eligible |= c.eligible,
            None => unique.push(c),
        }
    }
    let any_healthy = unique.iter().any(|c| c.eligible);
    let mut pool: Vec<Candidate> = unique.into_iter().filter(|c| c.eligible || !any_healthy).collect();
    pool.shuffle(rng);
    pool.truncate(match routing {
        Routing::Multivalue => MULTIVALUE_MAX,
        Routing::Weighted => 1,
    });
    pool
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::records::{Data, Kind};
    use std::net::Ipv4Addr;

    fn cands(n: u8, eligible: impl Fn(u8) -> bool) -> Vec<Candidate> {
        (1..=n)
            .map(|i| Candidate {
                kind: Kind::A,
                data: Data::A(Ipv4Addr::new(10, 0, 0, i)),
                ttl: 10,
                eligible: eligible(i),
                instance_id: format!("i{i}"),
            })
            .collect()
    }

    #[test]
    fn multivalue_caps_at_eight_and_prefers_healthy() {
        let mut rng = rand::thread_rng();
        assert_eq!(select(Routing::Multivalue, cands(12, |_| true), &mut rng).len(), 8);
        let picked = select(Routing::Multivalue, cands(5, |i| i != 3), &mut rng);
        assert_eq!(picked.len(), 4);
        assert!(picked.iter().all(|c| c.eligible));
        assert_eq!(select(Routing::Multivalue, cands(3, |_| false), &mut rng).len(), 3, "fail open");
    }

    #[test]
    fn weighted_answers_one_and_fails_open() {
        let mut rng = rand::thread_rng();
        let picked = select(Routing::Weighted, cands(3, |i| i == 2), &mut rng);
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].instance_id, "i2");
        assert_eq!(select(Routing::Weighted, cands(3, |_| false), &mut rng).len(), 1);
        assert!(select(Routing::Weighted, Vec::new(), &mut rng).is_empty());
    }

    #[test]
    fn duplicate_values_collapse() {
        let mut rng = rand::thread_rng();
        let mut c = cands(2, |_| true);
        c[1].data = c[0].data.clone();
        assert_eq!(select(Routing::Multivalue, c, &mut rng).len(), 1);
    }
}
