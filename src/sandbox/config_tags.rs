//! Tags (Configuration API): `create_tag`, `update_tag`, `delete_tag`, `list_tags`.
//! `create_tag` matches existing names case-insensitively; the others are case sensitive, as
//! LiveChat documents them.

use serde_json::{Value, json};

use super::{
    error::{LcError, LcResult},
    model::Tag,
    params::Obj,
    state::State,
};

impl State {
    fn read_tag_groups(&self, b: &Obj) -> LcResult<Option<Vec<u32>>> {
        let Some(ids) = b.opt_group_ids("group_ids", 200)? else {
            return Ok(None);
        };
        if let Some(id) = ids.iter().find(|id| !self.group_exists(**id)) {
            return Err(LcError::group_not_found(format!(
                "`group_ids`: group {id} not found"
            )));
        }
        Ok(Some(ids))
    }

    fn tag_index(&self, name: &str) -> LcResult<usize> {
        self.lic
            .tags
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| {
                LcError::not_found(format!(
                    "Tag `{name}` not found (tag names are case sensitive)"
                ))
            })
    }

    pub(super) fn create_tag(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.req_str("name")?;
        if name.chars().count() > 128 {
            return Err(LcError::validation(
                "`name` can have at most 128 characters",
            ));
        }
        let groups = self.read_tag_groups(b)?;
        if let Some(existing) = self
            .lic
            .tags
            .iter()
            .find(|t| t.name.to_lowercase() == name.to_lowercase())
        {
            return Err(LcError::already_exists(format!(
                "Tag `{}` already exists",
                existing.name
            )));
        }
        let created_at = self.tick();
        self.lic.tags.push(Tag {
            name: name.to_string(),
            group_ids: groups.unwrap_or_else(|| vec![0]),
            author_id: self.requester().to_string(),
            created_at,
        });
        Ok(json!({}))
    }

    pub(super) fn update_tag(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.req_str("name")?;
        let groups = self.read_tag_groups(b)?;
        let index = self.tag_index(name)?;
        if let Some(groups) = groups {
            self.lic.tags[index].group_ids = groups;
        }
        Ok(json!({}))
    }

    pub(super) fn delete_tag(&mut self, b: &Obj) -> LcResult<Value> {
        let name = b.req_str("name")?;
        let index = self.tag_index(name)?;
        self.lic.tags.remove(index);
        Ok(json!({}))
    }

    pub(super) fn list_tags(&mut self, b: &Obj) -> LcResult<Value> {
        let groups = match b.opt_obj("filters")? {
            None => None,
            Some(f) => {
                f.only(&["group_ids"])?;
                Some(
                    f.opt_group_ids("group_ids", 200)?
                        .ok_or_else(|| super::params::required("filters.group_ids"))?,
                )
            }
        };
        let tags: Vec<Value> = self
            .lic
            .tags
            .iter()
            .filter(|t| groups.as_ref().is_none_or(|ids| t.group_ids.iter().any(|g| ids.contains(g))))
            .map(|t| json!({"name": t.name, "group_ids": t.group_ids, "author_id": t.author_id, "created_at": t.created_at}))
            .collect();
        Ok(Value::Array(tags))
    }
}
