//! The audit trail a server records to: open, or still opening while a stdio start answers
//! `initialize` and `tools/list` (neither is recorded). Every row waits for it, so a call made
//! meanwhile is written ahead as always, only later; if it cannot be opened, every call is
//! refused with the reason.

use std::future::Future;

use tokio::sync::watch;

use crate::audit::{AuditStore, Entry, NewEntry};

/// Cheap to clone: every clone waits for the same opening.
#[derive(Clone, Debug)]
pub struct Trail {
    state: watch::Receiver<Option<Result<AuditStore, String>>>,
}

impl Trail {
    /// A trail that is open already.
    pub fn open(store: AuditStore) -> Trail {
        let (_, state) = watch::channel(Some(Ok(store)));
        Trail { state }
    }

    /// A trail that `opening` opens on its own task; `Err` is why it could not be.
    pub fn opening(
        opening: impl Future<Output = Result<AuditStore, String>> + Send + 'static,
    ) -> Trail {
        let (opened, state) = watch::channel(None);
        tokio::spawn(async move {
            let _ = opened.send(Some(opening.await));
        });
        Trail { state }
    }

    /// The store, once open; why not, if it could not be opened.
    pub async fn store(&self) -> Result<AuditStore, String> {
        let mut state = self.state.clone();
        let opened = state
            .wait_for(Option::is_some)
            .await
            .map_err(|_| "audit: the trail's opening stopped before it ended".to_string())?;
        match &*opened {
            Some(Ok(store)) => Ok(store.clone()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("audit: the trail is not open".to_string()),
        }
    }

    /// [`AuditStore::append`], once the trail is open.
    pub async fn append(&self, entry: NewEntry) -> Result<Entry, String> {
        self.store().await?.append(entry).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_row_waits_for_the_opening_and_a_failed_one_is_given_as_the_reason() {
        let dir = std::env::temp_dir().join(format!(
            "livechat-mcp-trail-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let path = dir.join("audit.db");
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let location = path.clone();
        let trail = Trail::opening(async move {
            let _ = wait.await;
            AuditStore::open(&location)
        });
        let row = tokio::spawn({
            let trail = trail.clone();
            async move {
                trail
                    .append(NewEntry::new("ops", "list_chats", &serde_json::Map::new()))
                    .await
            }
        });
        tokio::task::yield_now().await;
        assert!(
            !row.is_finished(),
            "a row was written before the trail opened"
        );
        go.send(()).expect("the opening waits");
        let written = row.await.expect("the row's task");
        assert_eq!(written.map(|e| e.id), Ok(1));
        assert_eq!(trail.store().await.map(|_| ()), Ok(()));

        let refused = Trail::opening(async { Err("audit: the key is missing".to_string()) });
        let failed = refused
            .append(NewEntry::new("ops", "list_chats", &serde_json::Map::new()))
            .await;
        assert_eq!(
            failed.map(|e| e.id),
            Err("audit: the key is missing".to_string())
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
