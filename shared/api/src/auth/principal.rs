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
}

impl Principal {
    pub fn unrestricted(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            workspaces: WorkspaceScope::All,
            read_only: false,
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
