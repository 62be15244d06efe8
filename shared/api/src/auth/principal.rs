//! An authenticated caller: its tenant and the workspaces it may submit for, read, list and watch.

use std::collections::BTreeSet;

/// The workspace a tenant entry of `"*"` stands for: all of them.
pub const ANY_WORKSPACE: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkspaceScope {
    All,
    Only(BTreeSet<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub workspaces: WorkspaceScope,
    /// An auditor: may read (status, list, audit trail, stream) but never submit, upload or trigger.
    pub read_only: bool,
    /// For a token caller (JWT), the token's subject (its `sub` claim, empty when it has none); `None` for an
    /// API key. Rate limits count a token caller per tenant and subject, so a fresh token of the same
    /// subject draws on the same bucket.
    pub subject: Option<String>,
}

impl Principal {
    pub fn unrestricted(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            workspaces: WorkspaceScope::All,
            read_only: false,
            subject: None,
        }
    }

    /// A principal from a configured list of workspaces, where `"*"` means every workspace.
    pub fn with_workspaces<I: IntoIterator<Item = String>>(tenant: String, workspaces: I) -> Self {
        let set: BTreeSet<String> = workspaces.into_iter().collect();
        let workspaces = if set.contains(ANY_WORKSPACE) {
            WorkspaceScope::All
        } else {
            WorkspaceScope::Only(set)
        };
        Self {
            tenant,
            workspaces,
            read_only: false,
            subject: None,
        }
    }

    /// The same scope, for the token subject `subject`.
    pub fn for_subject(self, subject: &str) -> Self {
        Self {
            subject: Some(subject.to_string()),
            ..self
        }
    }

    /// What the rate limits count this caller as: a token caller by tenant and subject (a digest), an API
    /// key by `credential` (the key's digest).
    pub(crate) fn rate_key(&self, credential: impl FnOnce() -> String) -> String {
        match &self.subject {
            Some(subject) => format!(
                "subject:{}",
                super::keys::hash_key(&format!("{}\n{subject}", self.tenant))
            ),
            None => credential(),
        }
    }

    /// The same scope, for reading only (an auditor).
    pub fn reading_only(self) -> Self {
        Self {
            read_only: true,
            ..self
        }
    }

    /// A job is the caller's when it was recorded for the caller's tenant and is in one of its workspaces; a
    /// record without a tenant is nobody's.
    pub fn may_see(&self, tenant: Option<&str>, workspace_id: &str) -> bool {
        tenant == Some(self.tenant.as_str()) && self.may_use(workspace_id)
    }

    pub fn may_use(&self, workspace_id: &str) -> bool {
        match &self.workspaces {
            WorkspaceScope::All => true,
            WorkspaceScope::Only(set) => set.contains(workspace_id),
        }
    }
}
