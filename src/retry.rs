//! When a failed upstream request is worth another, and how long to wait first: the cause of a
//! failure, whether a write may be repeated after it, full-jitter backoff, and the waits
//! LiveChat or a proxy asks for (`Retry-After`, rate-limit reset headers).

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use crate::error::{ApiError, ErrorType};

/// Why a request is repeated. Its name labels the retry metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// LiveChat refused the request for the license's quota (`too_many_requests`, HTTP 429).
    RateLimited,
    /// The token belongs to another data centre, which LiveChat named.
    Misdirected,
    /// No connection could be opened: nothing was sent.
    Unreachable,
    /// The connection broke or no answer came in time.
    Transport,
    /// A proxy in front of LiveChat answered 502, 503 or 504.
    Gateway,
    /// LiveChat said it failed (`internal`, `service_unavailable`, `request_timeout`).
    Upstream,
}

impl Cause {
    pub const ALL: [Cause; 6] = [
        Cause::RateLimited,
        Cause::Misdirected,
        Cause::Unreachable,
        Cause::Transport,
        Cause::Gateway,
        Cause::Upstream,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Cause::RateLimited => "too_many_requests",
            Cause::Misdirected => "misdirected_request",
            Cause::Unreachable => "unreachable",
            Cause::Transport => "transport",
            Cause::Gateway => "gateway",
            Cause::Upstream => "upstream",
        }
    }

    /// LiveChat provably did not carry the request out, so a write may be sent again.
    pub const fn never_executed(self) -> bool {
        matches!(
            self,
            Cause::RateLimited | Cause::Misdirected | Cause::Unreachable
        )
    }
}

/// What a failure means for the call: the cause, if another request could help.
pub fn cause(error: &ApiError) -> Option<Cause> {
    match error {
        ApiError::LiveChat { kind, .. } => match kind {
            ErrorType::TooManyRequests => Some(Cause::RateLimited),
            ErrorType::MisdirectedRequest => Some(Cause::Misdirected),
            ErrorType::Internal | ErrorType::ServiceUnavailable | ErrorType::RequestTimeout => {
                Some(Cause::Upstream)
            }
            _ => None,
        },
        ApiError::Unreachable(_) => Some(Cause::Unreachable),
        ApiError::Network(_) | ApiError::Timeout { .. } => Some(Cause::Transport),
        ApiError::BadResponse {
            status: 502..=504, ..
        } => Some(Cause::Gateway),
        _ => None,
    }
}

/// Whether a write that failed with `error` may have been carried out by LiveChat: its request
/// may have arrived, and no answer says it was refused.
pub fn outcome_unknown(error: &ApiError) -> bool {
    match error {
        ApiError::NoCredentials(_)
        | ApiError::Unreachable(_)
        | ApiError::Untrusted(_)
        | ApiError::Throttled { .. }
        | ApiError::Cancelled { sent: false } => false,
        ApiError::LiveChat { .. } | ApiError::QuotaExhausted { .. } => {
            cause(error).is_some_and(|c| !c.never_executed())
        }
        ApiError::Network(_)
        | ApiError::Timeout { .. }
        | ApiError::BadResponse { .. }
        | ApiError::TooLarge { .. }
        | ApiError::Cancelled { sent: true } => true,
    }
}

/// The first backoff step; each retry doubles it, up to [`MAX_STEP`].
const BASE_STEP: Duration = Duration::from_millis(200);
/// The largest backoff step.
const MAX_STEP: Duration = Duration::from_secs(4);
/// The longest wait a header may ask for that is believed; anything longer is capped (a
/// broken proxy date must not mean "never").
const MAX_ASKED: Duration = Duration::from_secs(3600);

/// Full-jitter exponential backoff: before retry `n` (1 for the first), a random wait between
/// zero and `BASE_STEP · 2^(n-1)`, capped at `MAX_STEP`. Random spreads clients that failed
/// together, so they do not come back together.
pub fn backoff(retry: u32, random: f64) -> Duration {
    let doubling = 2u32.saturating_pow(retry.saturating_sub(1).min(16));
    let step = BASE_STEP.saturating_mul(doubling).min(MAX_STEP);
    step.mul_f64(random.clamp(0.0, 1.0))
}

/// How long the answer asks to wait before the next request, from `Retry-After` (seconds or an
/// HTTP date), else `RateLimit-Reset` (seconds), else `X-RateLimit-Reset` (seconds, or a Unix
/// time when it is one). LiveChat documents none of them; they are honoured when present.
pub fn asked_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let asked = text("retry-after")
        .and_then(|v| seconds(v).or_else(|| http_date(v, now)))
        .or_else(|| text("ratelimit-reset").and_then(seconds))
        .or_else(|| text("x-ratelimit-reset").and_then(|v| reset(v, now)))?;
    Some(asked.min(MAX_ASKED))
}

fn seconds(text: &str) -> Option<Duration> {
    text.parse::<u64>().ok().map(Duration::from_secs)
}

/// `X-RateLimit-Reset`: seconds to wait, or the Unix time the window resets at.
fn reset(text: &str, now: SystemTime) -> Option<Duration> {
    let value = text.parse::<u64>().ok()?;
    const A_UNIX_TIME: u64 = 1_000_000_000;
    if value < A_UNIX_TIME {
        return Some(Duration::from_secs(value));
    }
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(value);
    Some(at.duration_since(now).unwrap_or_default())
}

/// An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) as the wait until it; a date passed is no
/// wait.
fn http_date(text: &str, now: SystemTime) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or_default())
}

/// A wait as people read it: `800 ms`, `2.5 s`, `42 s`, `3 min`.
pub fn human(wait: Duration) -> String {
    let ms = wait.as_millis();
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..10_000 => format!("{:.1} s", wait.as_secs_f64()),
        10_000..120_000 => format!("{} s", wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
        _ => format!("{} min", wait.as_secs().div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        map
    }

    #[test]
    fn backoff_is_full_jitter_doubling_to_a_cap() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(3, 0.5), Duration::from_millis(400));
        assert_eq!(backoff(9, 1.0), MAX_STEP);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_STEP);
        assert_eq!(backoff(5, 0.0), Duration::ZERO);
        assert_eq!(backoff(1, 7.0), Duration::from_millis(200), "clamped");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_400);
        assert_eq!(
            asked_wait(&headers(&[("retry-after", "60")]), now),
            Some(Duration::from_secs(60))
        );
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            asked_wait(
                &headers(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
                now
            ),
            Some(Duration::from_secs(80))
        );
        assert_eq!(
            asked_wait(
                &headers(&[("retry-after", "Wed, 21 Oct 2015 07:00:00 GMT")]),
                now
            ),
            Some(Duration::ZERO),
            "a date passed"
        );
        assert_eq!(
            asked_wait(&headers(&[("retry-after", "99999999")]), now),
            Some(MAX_ASKED)
        );
        assert_eq!(asked_wait(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(asked_wait(&headers(&[("retry-after", "-5")]), now), None);
        assert_eq!(asked_wait(&HeaderMap::new(), now), None);
    }

    #[test]
    fn rate_limit_reset_headers_when_there_is_no_retry_after() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            asked_wait(&headers(&[("ratelimit-reset", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            asked_wait(&headers(&[("x-ratelimit-reset", "1700000012")]), now),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            asked_wait(&headers(&[("x-ratelimit-reset", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            asked_wait(
                &headers(&[("retry-after", "2"), ("ratelimit-reset", "9")]),
                now
            ),
            Some(Duration::from_secs(2)),
            "Retry-After wins"
        );
    }

    #[test]
    fn which_failures_are_retried_and_which_leave_a_write_unknown() {
        let livechat = |kind| ApiError::LiveChat {
            kind,
            message: String::new(),
            data: None,
            status: 200,
        };
        let rate = livechat(ErrorType::TooManyRequests);
        assert_eq!(cause(&rate), Some(Cause::RateLimited));
        assert!(!outcome_unknown(&rate));
        let internal = livechat(ErrorType::Internal);
        assert_eq!(cause(&internal), Some(Cause::Upstream));
        assert!(outcome_unknown(&internal));
        let validation = livechat(ErrorType::Validation);
        assert_eq!(cause(&validation), None);
        assert!(!outcome_unknown(&validation));
        assert_eq!(
            cause(&ApiError::Unreachable("refused".into())),
            Some(Cause::Unreachable)
        );
        assert!(!outcome_unknown(&ApiError::Unreachable("refused".into())));
        // A refused certificate is refused again: no retry, and nothing was sent.
        assert_eq!(cause(&ApiError::Untrusted("UnknownIssuer".into())), None);
        assert!(!outcome_unknown(&ApiError::Untrusted(
            "UnknownIssuer".into()
        )));
        assert!(outcome_unknown(&ApiError::Network("reset".into())));
        assert!(outcome_unknown(&ApiError::Timeout { secs: 15 }));
        for status in [502, 503, 504] {
            let gateway = ApiError::BadResponse {
                status,
                detail: String::new(),
            };
            assert_eq!(cause(&gateway), Some(Cause::Gateway));
            assert!(outcome_unknown(&gateway));
        }
        let other = ApiError::BadResponse {
            status: 500,
            detail: String::new(),
        };
        assert_eq!(cause(&other), None);
        assert!(Cause::ALL.iter().filter(|c| c.never_executed()).count() == 3);
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(800)), "800 ms");
        assert_eq!(human(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(human(Duration::from_millis(41_200)), "42 s");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
    }
}
