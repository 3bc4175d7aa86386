//! Mean, standard deviation and Student-t confidence intervals over repetitions.
//!
//! The t quantile is computed (incomplete beta function, bisection), not tabulated, so any
//! number of repetitions and any confidence level gets an exact interval.

/// Summary statistics of one metric over the repetitions of one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of values summarized (repetitions).
    pub n: usize,
    /// Arithmetic mean; NaN when n = 0.
    pub mean: f64,
    /// Sample standard deviation (n - 1 in the denominator); NaN when n < 2.
    pub std_dev: f64,
    /// Half-width of the two-sided confidence interval for the mean; NaN when n < 2.
    pub ci_half: f64,
    /// Smallest, middle (mean of the two middle values for even n) and largest value: the
    /// distribution over repetitions, e.g. of an election time over seeds. NaN when n = 0.
    pub min: f64,
    /// Middle value (see `min`).
    pub median: f64,
    /// Largest value (see `min`).
    pub max: f64,
}

impl Summary {
    /// Summarizes `xs` with a two-sided `confidence` (e.g. 0.95) interval.
    pub fn of(xs: &[f64], confidence: f64) -> Summary {
        let n = xs.len();
        if n == 0 {
            return Summary {
                n,
                mean: f64::NAN,
                std_dev: f64::NAN,
                ci_half: f64::NAN,
                min: f64::NAN,
                median: f64::NAN,
                max: f64::NAN,
            };
        }
        let mut sorted = xs.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        let (min, max) = (sorted[0], sorted[n - 1]);
        // Two-pass mean and variance: exact enough for any realistic spread.
        let mean = xs.iter().sum::<f64>() / n as f64;
        if n < 2 {
            return Summary {
                n,
                mean,
                std_dev: f64::NAN,
                ci_half: f64::NAN,
                min,
                median,
                max,
            };
        }
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        let std_dev = var.sqrt();
        let t = student_t_quantile(0.5 + confidence / 2.0, (n - 1) as f64);
        Summary {
            n,
            mean,
            std_dev,
            ci_half: t * std_dev / (n as f64).sqrt(),
            min,
            median,
            max,
        }
    }
}

/// The `p` quantile of Student's t distribution with `df` degrees of freedom (p in (0, 1)).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    // Upper tail P(T > t) = I_{df/(df+t²)}(df/2, 1/2) / 2, decreasing in t: bisect.
    let tail = 1.0 - p;
    let upper = |t: f64| 0.5 * reg_inc_beta(df / 2.0, 0.5, df / (df + t * t));
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while upper(hi) > tail && hi < 1e12 {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if upper(mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized incomplete beta I_x(a, b) by Lentz's continued fraction.
fn reg_inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - reg_inc_beta(b, a, 1.0 - x);
    }
    let tiny = 1e-300;
    let mut f = 1.0;
    let mut c = 1.0;
    let mut d = 0.0;
    for i in 0..400 {
        let m = (i / 2) as f64;
        let num = if i == 0 {
            1.0
        } else if i % 2 == 0 {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        } else {
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        };
        d = 1.0 + num * d;
        if d.abs() < tiny {
            d = tiny;
        }
        d = 1.0 / d;
        c = 1.0 + num / c;
        if c.abs() < tiny {
            c = tiny;
        }
        let cd = c * d;
        f *= cd;
        if (1.0 - cd).abs() < 1e-15 {
            break;
        }
    }
    front * (f - 1.0) / a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Two-sided 95% critical values (any statistics table).
        for (df, t) in [
            (1.0, 12.7062),
            (2.0, 4.3027),
            (4.0, 2.7764),
            (9.0, 2.2622),
            (29.0, 2.0452),
            (1e6, 1.9600),
        ] {
            let got = student_t_quantile(0.975, df);
            assert!((got - t).abs() < 5e-4, "df {df}: {got} vs {t}");
        }
        // 99%, df 10: 3.1693.
        assert!((student_t_quantile(0.995, 10.0) - 3.1693).abs() < 5e-4);
        assert!((student_t_quantile(0.025, 4.0) + 2.7764).abs() < 5e-4);
    }

    #[test]
    fn summary_of_known_sample() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample sd sqrt(32/7).
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], 0.95);
        assert_eq!(s.mean, 5.0);
        assert!((s.std_dev - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        // t(0.975, 7) = 2.3646.
        let want = 2.3646 * (32.0f64 / 7.0).sqrt() / 8f64.sqrt();
        assert!((s.ci_half - want).abs() < 1e-3);
        // Even n: the median is the mean of the two middle values; input order is irrelevant.
        let s = Summary::of(&[9.0, 2.0, 5.0, 4.0, 7.0, 4.0, 4.0, 5.0], 0.95);
        assert_eq!((s.min, s.median, s.max), (2.0, 4.5, 9.0));
        let one = Summary::of(&[3.0], 0.95);
        assert_eq!(one.mean, 3.0);
        assert_eq!((one.min, one.median, one.max), (3.0, 3.0, 3.0));
        assert!(one.ci_half.is_nan());
    }
}
