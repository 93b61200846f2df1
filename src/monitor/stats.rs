//! The statistics of `obsq compare`: Wilson score intervals for a success rate and the pooled
//! two-proportion z-test for a change between two windows. Also SQL functions (`wilson_low`,
//! `wilson_high`, `prop_test_p`), so that `queries/compare.sql` and ad-hoc SQL share one
//! implementation.

/// The two-sided 95 % normal quantile, Φ⁻¹(0.975).
pub const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval of `k` successes in `n` trials at normal quantile `z`
/// (`None` when `n` is 0 or the counts are not counts).
pub fn wilson(k: f64, n: f64, z: f64) -> Option<(f64, f64)> {
    let counts = n > 0.0 && (0.0..=n).contains(&k);
    if !counts {
        return None;
    }
    let p = k / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

/// The z statistic and two-sided p-value of the pooled two-proportion z-test of `k1/n1`
/// against `k2/n2` (`None` when a window is empty). Equal rates of 0 or 1 in both windows give
/// z = 0 and p = 1 (no evidence of a change).
pub fn two_proportion(k1: f64, n1: f64, k2: f64, n2: f64) -> Option<(f64, f64)> {
    let counts = n1 > 0.0 && n2 > 0.0 && (0.0..=n1).contains(&k1) && (0.0..=n2).contains(&k2);
    if !counts {
        return None;
    }
    let pooled = (k1 + k2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return Some((0.0, 1.0));
    }
    let z = (k2 / n2 - k1 / n1) / se;
    Some((z, libm::erfc(z.abs() / std::f64::consts::SQRT_2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }

    #[test]
    fn wilson_matches_the_textbook_example() {
        // Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263 → 0.2553 to 0.3662.
        let (lo, hi) = wilson(81.0, 263.0, Z95).unwrap();
        assert!(
            (lo - 0.2553).abs() < 5e-5 && (hi - 0.3662).abs() < 5e-5,
            "{lo} {hi}"
        );
        // The bounds stay inside [0, 1] at the extremes and are not degenerate.
        let (lo, hi) = wilson(0.0, 10.0, Z95).unwrap();
        close(lo, 0.0);
        assert!(hi > 0.25 && hi < 0.35, "{hi}");
        assert_eq!(wilson(1.0, 0.0, Z95), None);
        assert_eq!(wilson(5.0, 4.0, Z95), None);
    }

    #[test]
    fn z_test_is_symmetric_and_bounded() {
        let (z, p) = two_proportion(95.0, 100.0, 60.0, 100.0).unwrap();
        assert!(z < -5.0 && p < 1e-6, "{z} {p}");
        let (z2, p2) = two_proportion(60.0, 100.0, 95.0, 100.0).unwrap();
        close(z, -z2);
        close(p, p2);
        let (_, p) = two_proportion(9.0, 10.0, 8.0, 10.0).unwrap();
        assert!(p > 0.5, "{p}");
        assert_eq!(two_proportion(10.0, 10.0, 5.0, 5.0), Some((0.0, 1.0)));
        assert_eq!(two_proportion(1.0, 0.0, 1.0, 1.0), None);
    }
}
