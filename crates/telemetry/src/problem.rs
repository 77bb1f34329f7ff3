//! RFC 9457 problem details: the one error body every Outpost HTTP surface
//! answers with (the edge api, the cloud admin, hw-proxy, the realtime hub),
//! its media type, and the one base every `type` URI hangs from. Each
//! surface keeps only the few lines that hand it to its web framework.

use serde::{Deserialize, Serialize};

/// The media type of a problem body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// Every problem `type` is this base and a slug (`…/not-found`). Absolute,
/// as RFC 9457 recommends: a relative `type` would resolve against whichever
/// host answered, so the same problem would have a different identity on
/// each service. It names the problem; clients need not fetch it.
pub const TYPE_BASE: &str = "https://outpost.dev/problems/";

/// A problem: what went wrong, in a form a program can match on (`type`,
/// `status`) and a person can read (`title`, `detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// The problem type: [`TYPE_BASE`] and a slug, e.g.
    /// `https://outpost.dev/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type; the same for every occurrence.
    pub title: String,
    /// The HTTP status code, repeated for clients that lost the header.
    pub status: u16,
    /// What happened this time, for a person.
    pub detail: String,
    /// Seconds until a locked-out PIN may be tried again (also sent as the
    /// `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<i64>,
}

impl Problem {
    /// A problem of the type `slug` (under [`TYPE_BASE`]).
    pub fn new(
        status: u16,
        slug: &str,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind: type_uri(slug),
            title: title.into(),
            status,
            detail: detail.into(),
            retry_after_s: None,
        }
    }

    /// The same problem, saying when to try again.
    pub fn retry_after(mut self, seconds: i64) -> Problem {
        self.retry_after_s = Some(seconds);
        self
    }

    /// The slug of this problem's type, when it is one of ours.
    pub fn slug(&self) -> Option<&str> {
        self.kind.strip_prefix(TYPE_BASE)
    }
}

/// The `type` URI of the problem named `slug`.
pub fn type_uri(slug: &str) -> String {
    format!("{TYPE_BASE}{slug}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_serializes_as_rfc_9457_members_under_the_one_base() {
        let p = Problem::new(404, "not-found", "Not found", "order x not found");
        let v = serde_json_value(&p);
        assert_eq!(v["type"], "https://outpost.dev/problems/not-found");
        assert_eq!(v["title"], "Not found");
        assert_eq!(v["status"], 404);
        assert_eq!(v["detail"], "order x not found");
        assert!(v.get("retry_after_s").is_none(), "{v}");
        assert_eq!(p.slug(), Some("not-found"));
    }

    #[test]
    fn retry_after_is_an_extension_member_only_when_set() {
        let p = Problem::new(429, "locked-out", "Locked out", "wait").retry_after(30);
        assert_eq!(serde_json_value(&p)["retry_after_s"], 30);
    }

    fn serde_json_value(p: &Problem) -> serde_json::Value {
        serde_json::to_value(p).unwrap()
    }
}
