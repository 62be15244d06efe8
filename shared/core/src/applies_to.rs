//! What a manifest applies to (W3). A signature covers the manifest's bytes only, so without this a signed
//! manifest (with a lenient profile) could be replayed for any source, component or workspace, for ever. A
//! manifest may declare `appliesTo`: repository patterns, component ids, workspace ids, a `notAfter` instant
//! and the profiles a caller may ask for (without `profiles` the caller picks any profile of the manifest,
//! a lenient one included); a scan outside any of them is refused before a scanner starts, naming the field.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::job::Job;
use crate::time::Timestamp;

/// The manifest's `appliesTo` object; every list given must contain the scan's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppliesTo {
    /// Patterns of git repositories (`host/owner/name`, scheme, credentials and `.git` left out; `*` within
    /// a path segment, `**` across segments), case-insensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workspaces: Vec<String>,
    /// RFC 3339 instant, or a date (`YYYY-MM-DD`: the end of that day, UTC), after which no scan may use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// The profiles a scan may ask for (names of the manifest's own profiles, compared as profiles are
    /// resolved: case-insensitively).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

impl AppliesTo {
    /// Refuses `job` when it is outside what the manifest applies to, at `now`.
    pub fn check(&self, job: &Job, now: Timestamp) -> Result<()> {
        let refused = |field: &str, message: String| {
            Err(CoreError::Manifest(format!(
                "manifest /appliesTo/{field}: {message}"
            )))
        };
        if let Some(text) = &self.not_after {
            match not_after_instant(text) {
                None => return refused("notAfter", format!("{text:?} is not a date or instant")),
                Some(limit) if now > limit => {
                    return refused(
                        "notAfter",
                        format!("the manifest expired at {text}; it cannot be used for a scan now"),
                    )
                }
                Some(_) => {}
            }
        }
        if !self.profiles.is_empty()
            && !self
                .profiles
                .iter()
                .any(|name| name.eq_ignore_ascii_case(&job.profile))
        {
            return refused(
                "profiles",
                format!(
                    "the manifest permits the profiles {:?}, not {:?}",
                    self.profiles, job.profile
                ),
            );
        }
        if !self.workspaces.is_empty() && !self.workspaces.contains(&job.ids.workspace_id) {
            return refused(
                "workspaces",
                format!(
                    "the manifest applies to workspaces {:?}, not {:?}",
                    self.workspaces, job.ids.workspace_id
                ),
            );
        }
        if !self.components.is_empty() && !self.components.contains(&job.ids.component_id) {
            return refused(
                "components",
                format!(
                    "the manifest applies to components {:?}, not {:?}",
                    self.components, job.ids.component_id
                ),
            );
        }
        if !self.repositories.is_empty() {
            let Some(url) = &job.git_url else {
                return refused(
                    "repositories",
                    format!(
                        "the manifest applies to repositories {:?}; this scan's source is a {}, not a git repository",
                        self.repositories, job.source_type
                    ),
                );
            };
            let repository = repository_of(url);
            if !self
                .repositories
                .iter()
                .any(|pattern| glob(&pattern.to_ascii_lowercase(), &repository))
            {
                return refused(
                    "repositories",
                    format!(
                        "the manifest applies to repositories {:?}, not {repository:?}",
                        self.repositories
                    ),
                );
            }
        }
        Ok(())
    }
}

/// `notAfter` as an instant: RFC 3339, or the last second of a `YYYY-MM-DD` date in UTC.
pub fn not_after_instant(text: &str) -> Option<Timestamp> {
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&chrono::Utc));
    }
    if text.len() != 10 {
        return None;
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(23, 59, 59)?.and_utc())
}

/// A git URL as `host/path`, lower-case: scheme, credentials, port-less scp form and `.git` left out.
pub fn repository_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest
        .rsplit_once('@')
        .map_or(rest, |(_, host_path)| host_path);
    // scp-like `host:owner/name` (no scheme): the first ':' separates host and path.
    let rest = if url.contains("://") {
        rest.to_string()
    } else {
        rest.replacen(':', "/", 1)
    };
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    rest.to_ascii_lowercase()
}

/// `*` matches within one path segment, `**` across segments (and `**/` also matches nothing).
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = &p[2..];
                let rest_after_slash = rest.strip_prefix(b"/").unwrap_or(rest);
                (0..=t.len()).any(|i| go(rest, &t[i..]) || go(rest_after_slash, &t[i..]))
            }
            Some(b'*') => {
                let rest = &p[1..];
                for i in 0..=t.len() {
                    if go(rest, &t[i..]) {
                        return true;
                    }
                    if t.get(i) == Some(&b'/') {
                        break;
                    }
                }
                false
            }
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_compared_without_scheme_credentials_or_dot_git() {
        for url in [
            "https://github.com/Acme/Payments.git",
            "ssh://git@github.com/acme/payments",
            "git@github.com:acme/payments.git",
            "https://github.com/acme/payments/",
        ] {
            assert_eq!(repository_of(url), "github.com/acme/payments", "{url}");
        }
        assert!(glob("github.com/acme/*", "github.com/acme/payments"));
        assert!(!glob("github.com/acme/*", "github.com/acme/x/payments"));
        assert!(glob("github.com/acme/**", "github.com/acme/x/payments"));
        assert!(glob("**/payments", "github.com/acme/payments"));
        assert!(!glob("github.com/acme/pay", "github.com/acme/payments"));
    }

    fn job_asking_for(profile: &str) -> Job {
        let submission = crate::request::ValidatedSubmission {
            ids: crate::request::ScanIds {
                workspace_id: "ws".into(),
                component_id: "c".into(),
                assessment_id: "a".into(),
            },
            source: crate::request::SourceSpec::Directory {
                directory_path: "/src".into(),
            },
            manifest: crate::request::ManifestSource::RepoPath("m.json".into()),
            signature: None,
            profile: profile.into(),
            requested_by: None,
            baseline: None,
            full_scan: false,
        };
        Job::queued(
            "test_0123456789ab".into(),
            submission,
            "ws://x".into(),
            crate::time::now(),
        )
    }

    #[test]
    fn a_profile_the_manifest_does_not_permit_is_refused_naming_the_field() {
        let strict_only = AppliesTo {
            profiles: vec!["strict".into(), "Standard".into()],
            ..AppliesTo::default()
        };
        let now = crate::time::now();
        let refused = strict_only
            .check(&job_asking_for("light"), now)
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains(
                r#"manifest /appliesTo/profiles: the manifest permits the profiles ["strict", "Standard"], not "light""#
            ),
            "{refused}"
        );
        // Compared as profiles are resolved: case-insensitively.
        for asked in ["strict", "STRICT", "standard"] {
            strict_only.check(&job_asking_for(asked), now).unwrap();
        }
        // Without `profiles` the caller chooses (compatible with manifests signed before the field).
        AppliesTo::default()
            .check(&job_asking_for("light"), now)
            .unwrap();
    }

    #[test]
    fn not_after_takes_instants_and_whole_days() {
        assert_eq!(
            not_after_instant("2030-01-31").unwrap().to_rfc3339(),
            "2030-01-31T23:59:59+00:00"
        );
        assert!(not_after_instant("2030-01-31T10:00:00+02:00").is_some());
        assert!(not_after_instant("31/01/2030").is_none());
        assert!(not_after_instant("2030-1-31").is_none());
    }
}
