//! What a recommendation is based on: healthy traffic. The AWS guidance
//! asks for a limit drawn from a window of healthy high traffic, not from
//! an attack; a day of logs holds both. So by default the recommendation
//! leaves out the requests WAF blocked, the requests carrying labels of
//! known-bad sources (the reputation and anonymous-IP lists), time ranges
//! someone excludes (an incident), and keys whose peak stands out as an
//! outlier — and says what it left out and how much. The top list, the
//! charts and the what-if still see everything.

use super::query::{label_matches, parse_time, rfc3339, valid_label};
use chrono::DateTime;
use serde::{Deserialize, Serialize};

/// Label namespaces of known-bad sources: AWS's IP reputation lists and
/// anonymous-IP lists (hosting providers, VPNs, Tor).
pub const DEFAULT_BAD_LABELS: [&str; 2] = [
    "awswaf:managed:aws:amazon-ip-list:",
    "awswaf:managed:aws:anonymous-ip-list:",
];

/// Actions after which a request was not served as asked.
const BLOCKING_ACTIONS: [&str; 3] = ["BLOCK", "CAPTCHA", "CHALLENGE"];

/// The modified z-score (Iglewicz and Hoaglin) above which a key's peak is
/// an outlier, computed on the logarithm of the peaks.
pub const OUTLIER_SCORE: f64 = 3.5;
/// Fewer keys than this say too little about what is normal: no outliers.
const OUTLIER_MIN_KEYS: usize = 10;
/// An outlier's peak is at least this many times the median peak, however
/// alike the other keys are (most keys of a day often share a peak of 1
/// or 2, and a spread near zero would make every busier key an outlier).
const OUTLIER_MIN_FACTOR: f64 = 10.0;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthy {
    /// Leave out requests WAF blocked, or answered with a CAPTCHA or a
    /// challenge.
    pub skip_blocked: bool,
    /// Leave out requests with any of these labels (a namespace when it
    /// ends with `:`).
    pub bad_labels: Vec<String>,
    /// Leave out these time ranges, `from ≤ second < to`.
    pub exclude: Vec<(i64, i64)>,
    /// Leave out keys whose peak is an outlier.
    pub outliers: bool,
}

impl Default for Healthy {
    fn default() -> Self {
        Healthy {
            skip_blocked: true,
            bad_labels: DEFAULT_BAD_LABELS.map(str::to_owned).to_vec(),
            exclude: Vec::new(),
            outliers: true,
        }
    }
}

impl Healthy {
    /// Everything counts: the recommendation is based on all traffic.
    pub fn everything() -> Healthy {
        Healthy {
            skip_blocked: false,
            bad_labels: Vec::new(),
            exclude: Vec::new(),
            outliers: false,
        }
    }

    /// Whether anything is left out of the basis at all.
    pub fn leaves_out_anything(&self) -> bool {
        *self != Healthy::everything()
    }

    /// Reads the basis from query-string values: `blocked=keep`,
    /// `bad_labels=none` or a comma-separated list, `exclude=FROM/TO,…`
    /// (RFC 3339), `outliers=keep`. Missing values take the defaults.
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Result<Healthy, String> {
        let text = |key: &str| {
            get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let keep = |key: &str| match text(key).as_deref() {
            None | Some("skip") => Ok(false),
            Some("keep") => Ok(true),
            Some(other) => Err(format!("{key}: {other:?} is not keep or skip")),
        };
        let bad_labels = match text("bad_labels").as_deref() {
            None => DEFAULT_BAD_LABELS.map(str::to_owned).to_vec(),
            Some("none") => Vec::new(),
            Some(list) => list
                .split([',', '\n'])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| match valid_label(l) {
                    true => Ok(l.to_owned()),
                    false => Err(format!("bad_labels: {l:?} is not a WAF label or namespace")),
                })
                .collect::<Result<_, _>>()?,
        };
        let mut exclude = Vec::new();
        for range in text("exclude")
            .iter()
            .flat_map(|l| l.split([',', '\n']))
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            let problem = || {
                format!("exclude: {range:?} is not FROM/TO (two RFC 3339 times, FROM before TO)")
            };
            let (from, to) = range.split_once('/').ok_or_else(problem)?;
            let (from, to) = parse_time(from.trim())
                .zip(parse_time(to.trim()))
                .ok_or_else(problem)?;
            if from >= to {
                return Err(problem());
            }
            exclude.push((from.timestamp(), to.timestamp()));
        }
        exclude.sort_unstable();
        Ok(Healthy {
            skip_blocked: !keep("blocked")?,
            bad_labels,
            exclude,
            outliers: !keep("outliers")?,
        })
    }

    /// The basis as query-string pairs: only what differs from the default.
    pub fn to_query(&self) -> Vec<String> {
        let default = Healthy::default();
        let mut pairs = Vec::new();
        if !self.skip_blocked {
            pairs.push("blocked=keep".to_owned());
        }
        if self.bad_labels != default.bad_labels {
            let list = match self.bad_labels.is_empty() {
                true => "none".to_owned(),
                false => self.bad_labels.join(","),
            };
            pairs.push(format!("bad_labels={}", crate::url::encode(&list)));
        }
        if !self.exclude.is_empty() {
            pairs.push(format!(
                "exclude={}",
                crate::url::encode(&self.exclude_text())
            ));
        }
        if !self.outliers {
            pairs.push("outliers=keep".to_owned());
        }
        pairs
    }

    /// The excluded ranges as the form shows them.
    pub fn exclude_text(&self) -> String {
        let time = |s: i64| DateTime::from_timestamp(s, 0).map_or_else(String::new, rfc3339);
        self.exclude
            .iter()
            .map(|(from, to)| format!("{}/{}", time(*from), time(*to)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether a request logged with this action is left out.
    pub fn leaves_out_action(&self, action: &str) -> bool {
        self.skip_blocked && BLOCKING_ACTIONS.contains(&action)
    }

    /// Whether a request with this label is left out.
    pub fn leaves_out_label(&self, label: &str) -> bool {
        self.bad_labels.iter().any(|bad| label_matches(bad, label))
    }

    /// Whether `second` falls in an excluded range.
    pub fn leaves_out_second(&self, second: i64) -> bool {
        self.exclude
            .iter()
            .any(|&(from, to)| from <= second && second < to)
    }
}

/// What the basis left out, as the page and the command line report it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Requests the analysis asked about, before anything was left out.
    pub requests: u64,
    /// Requests in excluded time ranges.
    pub excluded_time: u64,
    /// Requests WAF blocked (or challenged).
    pub blocked: u64,
    /// Requests with a label of a known-bad source.
    pub labelled: u64,
    /// Keys left out as outliers, and the peak above which a key was one
    /// (0 when none was).
    pub outlier_keys: u64,
    pub outlier_above: u64,
    /// Keys the recommendation is based on.
    pub keys: u64,
}

impl LeftOut {
    /// Requests left out before the keys were counted.
    pub fn requests_left_out(&self) -> u64 {
        self.excluded_time + self.blocked + self.labelled
    }
}

/// The peak above which a key is an outlier among `sorted` (ascending)
/// peaks, if any is: a modified z-score of the peak's logarithm above
/// [`OUTLIER_SCORE`], with the median absolute deviation as the spread
/// (the mean absolute deviation when more than half the keys share one
/// peak), and at least [`OUTLIER_MIN_FACTOR`] times the median peak. Only
/// unusually high peaks count.
pub fn outlier_threshold(sorted: &[u64]) -> Option<u64> {
    if sorted.len() < OUTLIER_MIN_KEYS {
        return None;
    }
    let logs: Vec<f64> = sorted.iter().map(|&p| (p.max(1) as f64).ln()).collect();
    let median = |values: &[f64]| {
        let n = values.len();
        match n % 2 {
            1 => values[n / 2],
            _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        }
    };
    let center = median(&logs);
    let mut deviations: Vec<f64> = logs.iter().map(|l| (l - center).abs()).collect();
    deviations.sort_unstable_by(f64::total_cmp);
    let mad = median(&deviations);
    // Iglewicz and Hoaglin: 0.6745 × (x − median) / MAD, or with the mean
    // absolute deviation 0.7979 × (x − median) / MeanAD when MAD is 0.
    let spread = match mad > 0.0 {
        true => mad / 0.6745,
        false => {
            let mean = deviations.iter().sum::<f64>() / deviations.len() as f64;
            mean / 0.7979
        }
    };
    if spread <= 0.0 {
        return None;
    }
    let limit = (center + OUTLIER_SCORE * spread)
        .exp()
        .max(center.exp() * OUTLIER_MIN_FACTOR);
    let above = limit.floor() as u64;
    sorted.last().filter(|&&max| max > above).map(|_| above)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(pairs: &[(&str, &str)]) -> Result<Healthy, String> {
        Healthy::from_query(|k| pairs.iter().find(|p| p.0 == k).map(|p| p.1.to_owned()))
    }

    #[test]
    fn the_default_basis_leaves_out_blocked_bad_labels_and_outliers() {
        let healthy = ask(&[]).unwrap();
        assert_eq!(healthy, Healthy::default());
        assert!(healthy.leaves_out_action("BLOCK"));
        assert!(healthy.leaves_out_action("CAPTCHA"));
        assert!(!healthy.leaves_out_action("COUNT"));
        assert!(!healthy.leaves_out_action("ALLOW"));
        assert!(
            healthy.leaves_out_label("awswaf:managed:aws:anonymous-ip-list:HostingProviderIPList")
        );
        assert!(
            healthy
                .leaves_out_label("awswaf:managed:aws:amazon-ip-list:AWSManagedIPReputationList")
        );
        assert!(!healthy.leaves_out_label("awswaf:managed:aws:core-rule-set:NoUserAgent_Header"));
        assert!(healthy.to_query().is_empty());
    }

    fn percent_decoded(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_basis_survives_its_link() {
        let healthy = ask(&[
            ("blocked", "keep"),
            ("bad_labels", "awswaf:managed:aws:anonymous-ip-list:, custom:bad"),
            (
                "exclude",
                "2026-11-22T15:00:00Z/2026-11-22T15:10:00Z,2026-11-22T09:00:00Z/2026-11-22T10:00:00Z",
            ),
            ("outliers", "keep"),
        ])
        .unwrap();
        assert!(!healthy.skip_blocked && !healthy.outliers);
        assert_eq!(healthy.exclude.len(), 2);
        assert!(healthy.exclude[0].0 < healthy.exclude[1].0, "sorted");
        assert!(healthy.leaves_out_second(healthy.exclude[1].0));
        assert!(!healthy.leaves_out_second(healthy.exclude[1].1));
        let link = healthy.to_query();
        let decoded: Vec<(String, String)> = link
            .iter()
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap();
                (k.to_owned(), percent_decoded(v))
            })
            .collect();
        let again = Healthy::from_query(|k| {
            decoded
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        })
        .unwrap();
        assert_eq!(again, healthy);
        assert!(
            ask(&[("bad_labels", "none")])
                .unwrap()
                .bad_labels
                .is_empty()
        );
    }

    #[test]
    fn a_basis_that_cannot_be_used_says_why() {
        assert!(
            ask(&[("blocked", "maybe")])
                .unwrap_err()
                .contains("keep or skip")
        );
        assert!(ask(&[("bad_labels", "bad label")]).is_err());
        assert!(
            ask(&[("exclude", "2026-11-22T15:10:00Z/2026-11-22T15:00:00Z")])
                .unwrap_err()
                .contains("FROM before TO")
        );
        assert!(ask(&[("exclude", "yesterday")]).is_err());
    }

    #[test]
    fn outliers_are_peaks_far_above_the_rest_on_a_log_scale() {
        // A thousand ordinary keys with peaks 1 to 40, four brute forcers at 300.
        let mut peaks: Vec<u64> = (0..1000).map(|i| 1 + (i % 40)).collect();
        peaks.extend([300, 310, 320, 330]);
        peaks.sort_unstable();
        let above = outlier_threshold(&peaks).expect("the brute forcers stand out");
        assert!((40..300).contains(&above), "{above}");
        // Without them, nobody stands out.
        assert_eq!(outlier_threshold(&peaks[..1000]), None);
        // Too few keys to say.
        assert_eq!(outlier_threshold(&[1, 1, 1, 500]), None);
        // Most keys at one peak: the mean absolute deviation decides.
        let mut flat = vec![2u64; 900];
        flat.extend((0..100).map(|i| 3 + i % 5));
        flat.push(5000);
        flat.sort_unstable();
        let above = outlier_threshold(&flat).unwrap();
        assert_eq!(
            above, 20,
            "ten times the median peak, not the next busier keys"
        );
        assert_eq!(outlier_threshold(&[7; 50]), None, "all the same");
    }
}
