//! Medians and spreads of repeated measurements.

/// Median, minimum and maximum of a sample.
///
/// ```
/// use berth_bench::stats::Spread;
/// let s = Spread::of(&[4.0, 1.0, 3.0, 2.0]).unwrap();
/// assert_eq!(s.median, 2.5);
/// assert!(Spread::of(&[]).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none. NaNs sort last.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// `median [min–max]` with `decimals` digits after the point (one value: just it).
    ///
    /// ```
    /// use berth_bench::stats::Spread;
    /// assert_eq!(Spread::of(&[0.91, 0.97, 0.95]).unwrap().show(2), "0.95 [0.91–0.97]");
    /// assert_eq!(Spread::of(&[7.0]).unwrap().show(0), "7");
    /// ```
    pub fn show(&self, decimals: usize) -> String {
        if self.min == self.max {
            format!("{:.*}", decimals, self.median)
        } else {
            format!(
                "{:.*} [{:.*}–{:.*}]",
                decimals, self.median, decimals, self.min, decimals, self.max
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_medians() {
        assert_eq!(Spread::of(&[5.0]).unwrap().median, 5.0);
        assert_eq!(Spread::of(&[9.0, 1.0, 5.0]).unwrap().median, 5.0);
        let s = Spread::of(&[1.0, 10.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
    }
}
