//! gb-bench's medians: `median`, the one the tables use, and `Stat`, the
//! statistics the report stores.

use serde::{Deserialize, Serialize};

/// The median of the finite values of `v`, the upper one of an even count;
/// None when there are none.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Median and range over repetitions, as the report stores them. Its
/// median is the mean of the two middle values of an even count, not
/// `median`'s upper one: saved reports hold it, so it stays.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Stat {
    /// The statistics of the finite values; None when there are none.
    pub fn of(mut values: Vec<f64>) -> Option<Stat> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        values.sort_by(|a, b| a.total_cmp(b));
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: values[0],
            max: values[n - 1],
            n,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_finite_values() {
        use super::median;
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(median(vec![f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn stat_of_finite_values() {
        use super::Stat;
        let s = Stat::of(vec![4.0, f64::INFINITY, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 4.0, 4));
        let s = Stat::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert!(Stat::of(vec![f64::NAN]).is_none());
    }
}
