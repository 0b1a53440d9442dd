//! min / median / p99 of a sample set, by nearest rank: the same rule as
//! `edgeos_cycles::Summary`, so the figures read like the project's.

#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub runs: usize,
    pub min: u64,
    pub median: u64,
    pub p99: u64,
}

/// Sorts `samples` in place; `None` when there are none.
pub fn summarise(samples: &mut [u64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let rank = |p: usize| samples[(samples.len() * p).div_ceil(100).saturating_sub(1)];
    Some(Summary {
        runs: samples.len(),
        min: samples[0],
        median: rank(50),
        p99: rank(99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_of_1_to_1000() {
        let mut samples: Vec<u64> = (1..=1000).rev().collect();
        let summary = summarise(&mut samples).unwrap();
        assert_eq!(
            summary,
            Summary {
                runs: 1000,
                min: 1,
                median: 500,
                p99: 990
            }
        );
    }

    #[test]
    fn nothing_to_summarise() {
        assert_eq!(summarise(&mut []), None);
    }
}
