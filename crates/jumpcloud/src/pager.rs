//! Listing with `limit`/`skip`: every page of a JumpCloud listing, whether the API
//! answers `{"results": [...], "totalCount": n}` (v1) or a bare array (v2).

use serde_json::Value;

use crate::client::{Client, NotFoundContext};
use crate::error::{Error, Result};

/// At most this many pages are read from one listing (a guard against a server that
/// never ends a listing).
pub const MAX_PAGES: usize = 10_000;

/// A page shorter than the limit ends a listing without a total, unless it holds at
/// least this many items: JumpCloud caps `limit` (at 100 on most listings), so a full
/// page of a capped listing is at least that long.
const CAPPED_BELOW: usize = 100;

/// Progress of a listing: items so far, and the total when the API reports one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageProgress {
    /// Items read so far.
    pub read: usize,
    /// `totalCount`, when the API gives it.
    pub total: Option<usize>,
}

/// One listing: the path, fixed query pairs and the page size.
#[derive(Debug, Clone)]
pub struct Listing<'a> {
    /// `/api/...`.
    pub path: &'a str,
    /// Query pairs sent with every page (besides `limit` and `skip`).
    pub query: &'a [(&'a str, &'a str)],
    /// `limit` of each page.
    pub page_size: usize,
    /// What a 404 means.
    pub what: &'a str,
}

/// The items of one page and the reported total.
pub fn page_items(body: Value) -> std::result::Result<(Vec<Value>, Option<usize>), String> {
    match body {
        Value::Array(items) => Ok((items, None)),
        Value::Object(mut obj) => {
            let total = obj
                .get("totalCount")
                .and_then(Value::as_u64)
                .map(|t| t as usize);
            match obj.remove("results") {
                Some(Value::Array(items)) => Ok((items, total)),
                Some(Value::Null) | None => Err("no results array".to_owned()),
                Some(_) => Err("results is not an array".to_owned()),
            }
        }
        _ => Err("neither a list nor an object with results".to_owned()),
    }
}

impl Client {
    /// Every item of a listing, page by page; `progress` is called after each page.
    pub fn list_all(
        &self,
        listing: &Listing<'_>,
        progress: &mut dyn FnMut(PageProgress),
    ) -> Result<Vec<Value>> {
        let ctx = NotFoundContext::new(listing.what, "check the region or --jc-url");
        let page_size = listing.page_size.max(1);
        let limit = page_size.to_string();
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..MAX_PAGES {
            // Skip what was read, not pages of the size asked: a server may cap `limit`.
            let skip = out.len().to_string();
            let mut query: Vec<(&str, &str)> = listing.query.to_vec();
            query.push(("limit", limit.as_str()));
            query.push(("skip", skip.as_str()));
            let reply = self.send("GET", listing.path, &query, None)?.expect(
                &[200],
                self.auth().kind(),
                &ctx,
            )?;
            let (items, total) =
                page_items(reply.json()?).map_err(|reason| Error::InvalidResponse {
                    method: reply.method.clone(),
                    path: reply.path.clone(),
                    reason,
                })?;
            let n = items.len();
            out.extend(items);
            progress(PageProgress {
                read: out.len(),
                total,
            });
            // The end: an empty page, the reported total, or (without a total) a page
            // shorter than the limit, which a capped server could also send: then one
            // more page is asked for, which comes back empty.
            let ended = match total {
                Some(t) => n == 0 || out.len() >= t,
                None => n == 0 || (n < page_size && n < CAPPED_BELOW),
            };
            if ended {
                return Ok(out);
            }
        }
        Err(Error::InvalidResponse {
            method: "GET".to_owned(),
            path: listing.path.to_owned(),
            reason: format!("the listing did not end after {MAX_PAGES} pages"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages() {
        let (items, total) = page_items(json!({"results": [1, 2], "totalCount": 5})).unwrap();
        assert_eq!((items.len(), total), (2, Some(5)));
        let (items, total) = page_items(json!([1])).unwrap();
        assert_eq!((items.len(), total), (1, None));
        assert!(page_items(json!({"totalCount": 1})).is_err());
        assert!(page_items(json!("x")).is_err());
    }
}
