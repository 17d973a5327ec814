//! Edits: create, delete and rename keys; set and delete values. Every edit keeps the
//! hive consistent (sorted subkey lists with correct hashes, exact sk reference counts,
//! the "largest …" fields) so that it can be saved at any point.

use crate::base::{read_u16, read_u32, write_u16, write_u32, write_u64};
use crate::error::{Error, Result};
use crate::hive::{Hive, NULL};
use crate::key::{Key, MAX_DEPTH, MAX_LEAF_ELEMENTS, flags, nk};
use crate::names::{RawName, encode_name, lf_hint, lh_hash, upcase_str};
use crate::value::{BIG_DATA_SEGMENT, INLINE_DATA, Value, vk};

/// The current time as a FILETIME.
pub fn filetime_now() -> u64 {
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() / 100)
        .unwrap_or(0);
    116_444_736_000_000_000u64.saturating_add(since_unix as u64)
}

/// A bitset over cell offsets, to walk the key tree without revisiting (loops in
/// corrupt hives would otherwise never end).
pub(crate) struct Visited(Vec<u64>);

impl Visited {
    pub(crate) fn new(bins_size: u32) -> Visited {
        Visited(vec![0; (bins_size as usize / 8).div_ceil(64) + 1])
    }
    /// Whether `cell` is marked.
    pub(crate) fn contains(&self, cell: u32) -> bool {
        let i = cell as usize / 8;
        self.0
            .get(i / 64)
            .is_some_and(|word| word & (1u64 << (i % 64)) != 0)
    }

    /// Marks `cell`; false if it was already marked. An offset beyond the bins is not
    /// tracked and counts as new: it is no cell, and reading it gives the real error.
    pub(crate) fn insert(&mut self, cell: u32) -> bool {
        let i = cell as usize / 8;
        let Some(word) = self.0.get_mut(i / 64) else {
            return true;
        };
        let bit = 1u64 << (i % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }
}

fn check_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty() || name.encode_utf16().count() > 255 {
        return Err(Error::Invalid(format!(
            "{what} name {name:?} must have 1 to 255 characters"
        )));
    }
    if name.contains('\\') {
        return Err(Error::Invalid(format!(
            "{what} name {name:?} contains a backslash"
        )));
    }
    Ok(())
}

/// Names as Windows sorts them: ordinal over upcased UTF-16.
fn sort_key(hive: &Hive, key: u32) -> Result<Vec<u16>> {
    Ok(Key::at(hive, key)?.raw_name().upcased())
}

impl Hive {
    /// Every key reachable from the root, parents before children.
    pub fn all_key_offsets(&self) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut seen = Visited::new(self.bins_size());
        let mut stack = vec![(self.root_offset(), 0usize)];
        while let Some((key, depth)) = stack.pop() {
            if !seen.insert(key) {
                return Err(Error::corrupt(
                    key,
                    "key reached twice: the key tree has a loop",
                ));
            }
            if depth > MAX_DEPTH {
                return Err(Error::corrupt(key, "key tree deeper than 512 levels"));
            }
            out.push(key);
            let k = Key::at(self, key)?;
            for child in k.subkey_offsets()?.into_iter().rev() {
                stack.push((child, depth + 1));
            }
        }
        Ok(out)
    }

    /// How many levels below the root a key is (the root is 0), following parent
    /// fields; stops counting past [`MAX_DEPTH`].
    fn depth_of(&self, key: u32) -> Result<usize> {
        let root = self.root_offset();
        let mut depth = 0;
        let mut at = key;
        while at != root && depth <= MAX_DEPTH {
            at = Key::at(self, at)?.parent_offset();
            depth += 1;
        }
        Ok(depth)
    }

    fn nk_set_u32(&mut self, key: u32, field: usize, v: u32) -> Result<()> {
        write_u32(self.cell_mut(key)?, field, v);
        Ok(())
    }

    fn nk_u32(&self, key: u32, field: usize) -> Result<u32> {
        Ok(read_u32(self.cell(key)?, field).unwrap_or(NULL))
    }

    /// Sets a key's last-written time.
    pub fn set_last_written(&mut self, key: u32, filetime: u64) -> Result<()> {
        Key::at(self, key)?;
        write_u64(self.cell_mut(key)?, nk::LAST_WRITTEN, filetime);
        Ok(())
    }

    /// Writes a key's subkey list anew from `children` (already in sorted order), in
    /// the list format the hive uses, splitting into an `ri` past 1012 elements.
    fn write_subkey_list(&mut self, key: u32, children: &[u32]) -> Result<()> {
        let old = self.nk_u32(key, nk::SUBKEY_LIST)?;
        let leaf_sig: [u8; 2] = if old != NULL && Key::at(self, key)?.subkey_count() > 0 {
            match self.cell(old)?.get(..2) {
                Some(b"li") => *b"li",
                Some(b"lf") => *b"lf",
                Some(b"lh") => *b"lh",
                _ => self.default_leaf(),
            }
        } else {
            self.default_leaf()
        };
        if old != NULL && Key::at(self, key)?.subkey_count() > 0 {
            self.free_subkey_list(old)?;
        }
        let new = if children.is_empty() {
            NULL
        } else if children.len() <= MAX_LEAF_ELEMENTS {
            self.alloc_leaf(leaf_sig, children)?
        } else {
            let mut leaves = Vec::new();
            for chunk in children.chunks(MAX_LEAF_ELEMENTS / 2) {
                leaves.push(self.alloc_leaf(leaf_sig, chunk)?);
            }
            let mut bytes = b"ri".to_vec();
            bytes.extend_from_slice(&(leaves.len() as u16).to_le_bytes());
            for l in leaves {
                bytes.extend_from_slice(&l.to_le_bytes());
            }
            self.alloc_with(&bytes)?
        };
        self.nk_set_u32(key, nk::SUBKEY_LIST, new)?;
        self.nk_set_u32(key, nk::SUBKEY_COUNT, children.len() as u32)
    }

    fn default_leaf(&self) -> [u8; 2] {
        match self.minor_version() {
            0..=2 => *b"li",
            3 | 4 => *b"lf",
            _ => *b"lh",
        }
    }

    fn alloc_leaf(&mut self, sig: [u8; 2], children: &[u32]) -> Result<u32> {
        let stride = if &sig == b"li" { 4 } else { 8 };
        let mut bytes = Vec::with_capacity(4 + children.len() * stride);
        bytes.extend_from_slice(&sig);
        bytes.extend_from_slice(&(children.len() as u16).to_le_bytes());
        for &child in children {
            bytes.extend_from_slice(&child.to_le_bytes());
            let k = Key::at(self, child)?;
            match &sig {
                b"lf" => bytes.extend_from_slice(&lf_hint(&k.raw_name())),
                b"lh" => bytes.extend_from_slice(&lh_hash(&k.raw_name().upcased()).to_le_bytes()),
                _ => {}
            }
        }
        self.alloc_with(&bytes)
    }

    fn free_subkey_list(&mut self, list: u32) -> Result<()> {
        let cell = self.cell(list)?;
        if cell.starts_with(b"ri") {
            let count = usize::from(read_u16(cell, 2).unwrap_or(0));
            let leaves: Vec<u32> = (0..count)
                .map(|i| read_u32(cell, 4 + 4 * i).unwrap_or(NULL))
                .collect();
            for leaf in leaves {
                self.free_cell(leaf)?;
            }
        }
        self.free_cell(list)
    }

    /// Raises a "largest …" field of a key to at least `v`.
    fn raise_largest(&mut self, key: u32, field: usize, v: u32) -> Result<()> {
        let cur = self.nk_u32(key, field)?;
        if field == nk::MAX_SUBKEY_NAME {
            // The high 16 bits carry other flags; only the low 16 count name bytes.
            if v > (cur & 0xFFFF) {
                self.nk_set_u32(key, field, (cur & 0xFFFF_0000) | (v & 0xFFFF))?;
            }
        } else if v > cur {
            self.nk_set_u32(key, field, v)?;
        }
        Ok(())
    }

    /// Creates a subkey and returns its offset. The new key shares its parent's
    /// security descriptor and gets the current time; an existing key of that name
    /// (ignoring case) is an error.
    pub fn create_key(&mut self, parent: u32, name: &str) -> Result<u32> {
        check_name(name, "key")?;
        // Windows refuses keys deeper than 512 levels, and so do our readers.
        if self.depth_of(parent)? >= MAX_DEPTH {
            return Err(Error::Invalid(format!(
                "key {name:?} would be deeper than {MAX_DEPTH} levels"
            )));
        }
        let p = Key::at(self, parent)?;
        if p.subkey(name)?.is_some() {
            return Err(Error::Invalid(format!(
                "key {name:?} already exists under {}",
                p.name()
            )));
        }
        let sk = p.security_offset();
        let mut children = p.subkey_offsets()?;
        let (name_bytes, compressed) = encode_name(name);
        let now = filetime_now();
        let mut bytes = vec![0u8; nk::NAME + name_bytes.len()];
        bytes[..2].copy_from_slice(b"nk");
        write_u16(
            &mut bytes,
            nk::FLAGS,
            if compressed { flags::COMP_NAME } else { 0 },
        );
        write_u64(&mut bytes, nk::LAST_WRITTEN, now);
        write_u32(&mut bytes, nk::PARENT, parent);
        write_u32(&mut bytes, nk::SUBKEY_LIST, NULL);
        write_u32(&mut bytes, nk::VOLATILE_SUBKEY_LIST, NULL);
        write_u32(&mut bytes, nk::VALUE_LIST, NULL);
        write_u32(&mut bytes, nk::SECURITY, sk);
        write_u32(&mut bytes, nk::CLASS, NULL);
        write_u16(&mut bytes, nk::NAME_LEN, name_bytes.len() as u16);
        bytes[nk::NAME..].copy_from_slice(&name_bytes);
        // Checked before anything changes: a corrupt count must not leave a half-made key.
        let refs = crate::security::Sk::at(self, sk)?
            .reference_count()
            .checked_add(1)
            .ok_or_else(|| Error::corrupt(sk, "sk reference count would overflow"))?;
        let key = self.alloc_with(&bytes)?;
        write_u32(self.cell_mut(sk)?, 12, refs);

        let wanted = upcase_str(name);
        let mut pos = children.len();
        for (i, &c) in children.iter().enumerate() {
            if sort_key(self, c)? > wanted {
                pos = i;
                break;
            }
        }
        children.insert(pos, key);
        self.write_subkey_list(parent, &children)?;
        let utf16_len = RawName {
            bytes: &name_bytes,
            compressed,
        }
        .utf16_len() as u32;
        self.raise_largest(parent, nk::MAX_SUBKEY_NAME, utf16_len)?;
        self.set_last_written(parent, now)?;
        Ok(key)
    }

    /// Creates every missing key along `path` (like `RegCreateKeyEx`) and returns the
    /// last one's offset.
    pub fn create_key_path(&mut self, path: &str) -> Result<u32> {
        let mut key = self.root_offset();
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            key = match Key::at(self, key)?.subkey(part)? {
                Some(k) => k.offset(),
                None => self.create_key(key, part)?,
            };
        }
        Ok(key)
    }

    /// Deletes a key with all its subkeys and values.
    pub fn delete_key(&mut self, key: u32) -> Result<()> {
        if key == self.root_offset() {
            return Err(Error::Invalid("the root key cannot be deleted".into()));
        }
        let parent = Key::at(self, key)?.parent_offset();
        let mut siblings = Key::at(self, parent)?.subkey_offsets()?;
        let before = siblings.len();
        siblings.retain(|&s| s != key);
        if siblings.len() == before {
            return Err(Error::corrupt(
                key,
                "key is not in its parent's subkey list",
            ));
        }
        self.free_key_tree(key)?;
        self.write_subkey_list(parent, &siblings)?;
        self.set_last_written(parent, filetime_now())
    }

    /// Frees a key, its values and its subtree (children first).
    fn free_key_tree(&mut self, key: u32) -> Result<()> {
        let mut seen = Visited::new(self.bins_size());
        let mut order = Vec::new();
        let mut stack = vec![key];
        while let Some(k) = stack.pop() {
            if !seen.insert(k) {
                return Err(Error::corrupt(
                    k,
                    "key reached twice: the key tree has a loop",
                ));
            }
            order.push(k);
            stack.extend(Key::at(self, k)?.subkey_offsets()?);
        }
        for k in order.into_iter().rev() {
            let view = Key::at(self, k)?;
            let values = view.value_offsets()?;
            let (list, values_list, class, sk) = (
                view.subkey_list_offset(),
                view.value_list_offset(),
                view.class_offset(),
                view.security_offset(),
            );
            let has_subkeys = view.subkey_count() > 0;
            // A key without values may still carry a stale list offset: that cell is not
            // this key's (readers ignore it), so it must not be freed.
            let has_values = !values.is_empty();
            for v in values {
                self.free_value(v)?;
            }
            if has_values && values_list != NULL {
                self.free_cell(values_list)?;
            }
            if has_subkeys && list != NULL {
                self.free_subkey_list(list)?;
            }
            if class != NULL {
                self.free_cell(class)?;
            }
            self.release_sk(sk)?;
            self.free_cell(k)?;
        }
        Ok(())
    }

    /// Renames a key (the key may move to a new cell; its new offset is returned).
    pub fn rename_key(&mut self, key: u32, new_name: &str) -> Result<u32> {
        check_name(new_name, "key")?;
        let view = Key::at(self, key)?;
        let parent = view.parent_offset();
        let is_root = key == self.root_offset();
        if !is_root
            && let Some(other) = Key::at(self, parent)?.subkey(new_name)?
            && other.offset() != key
        {
            return Err(Error::Invalid(format!("key {new_name:?} already exists")));
        }
        let (name_bytes, compressed) = encode_name(new_name);
        let mut bytes = self.cell(key)?[..nk::NAME].to_vec();
        let f = read_u16(&bytes, nk::FLAGS).unwrap_or(0) & !flags::COMP_NAME;
        write_u16(
            &mut bytes,
            nk::FLAGS,
            if compressed { f | flags::COMP_NAME } else { f },
        );
        write_u16(&mut bytes, nk::NAME_LEN, name_bytes.len() as u16);
        bytes.extend_from_slice(&name_bytes);
        let moved = self.rewrite_cell(key, &bytes)?;
        if moved != key {
            for child in Key::at(self, moved)?.subkey_offsets()? {
                self.nk_set_u32(child, nk::PARENT, moved)?;
            }
        }
        if is_root {
            self.dirty.mark(0, crate::base::BASE_BLOCK_SIZE);
            write_u32(&mut self.data, crate::base::off::ROOT, moved);
            return Ok(moved);
        }
        let mut siblings: Vec<u32> = Key::at(self, parent)?
            .subkey_offsets()?
            .into_iter()
            .map(|s| if s == key { moved } else { s })
            .collect();
        let mut keyed = Vec::with_capacity(siblings.len());
        for s in siblings.drain(..) {
            keyed.push((sort_key(self, s)?, s));
        }
        keyed.sort();
        let sorted: Vec<u32> = keyed.into_iter().map(|(_, s)| s).collect();
        self.write_subkey_list(parent, &sorted)?;
        let len = RawName {
            bytes: &name_bytes,
            compressed,
        }
        .utf16_len() as u32;
        self.raise_largest(parent, nk::MAX_SUBKEY_NAME, len)?;
        Ok(moved)
    }

    /// Stores data for a value, returning (data size field, data offset field).
    fn store_data(&mut self, data: &[u8]) -> Result<(u32, u32)> {
        let len = u32::try_from(data.len())
            .ok()
            .filter(|&l| l < INLINE_DATA)
            .ok_or(Error::TooLarge)?;
        if data.len() <= 4 {
            let mut inline = [0u8; 4];
            inline[..data.len()].copy_from_slice(data);
            return Ok((len | INLINE_DATA, u32::from_le_bytes(inline)));
        }
        if self.minor_version() > 3 && data.len() > BIG_DATA_SEGMENT {
            let mut segments = Vec::new();
            for chunk in data.chunks(BIG_DATA_SEGMENT) {
                // Every segment has room for a full 16344 bytes, the last one too, as
                // Windows lays them out: readers such as hivex take each segment's length
                // from its cell size and would cut a shorter last segment short.
                let segment = self.alloc_cell(BIG_DATA_SEGMENT)?;
                self.cell_mut(segment)?[..chunk.len()].copy_from_slice(chunk);
                segments.push(segment);
            }
            let list: Vec<u8> = segments.iter().flat_map(|s| s.to_le_bytes()).collect();
            let list_cell = self.alloc_with(&list)?;
            let mut db = b"db".to_vec();
            db.extend_from_slice(&(segments.len() as u16).to_le_bytes());
            db.extend_from_slice(&list_cell.to_le_bytes());
            return Ok((len, self.alloc_with(&db)?));
        }
        Ok((len, self.alloc_with(data)?))
    }

    /// Frees the data cells of a value (not the vk itself).
    fn free_value_data(&mut self, value: u32) -> Result<()> {
        let v = Value::at(self, value)?;
        if v.is_inline() || v.data_len() == 0 || v.data_offset() == NULL {
            return Ok(());
        }
        let (len, data) = (v.data_len() as usize, v.data_offset());
        if self.minor_version() > 3 && len > BIG_DATA_SEGMENT && self.cell(data)?.starts_with(b"db")
        {
            let (list, segments) = crate::value::big_data_cells(self, data)?;
            for s in segments {
                self.free_cell(s)?;
            }
            self.free_cell(list)?;
        }
        self.free_cell(data)
    }

    fn free_value(&mut self, value: u32) -> Result<()> {
        self.free_value_data(value)?;
        self.free_cell(value)
    }

    /// Sets a value (creating it if needed; `""` is the default value). An existing
    /// value keeps its name as stored and its place in the list.
    pub fn set_value(&mut self, key: u32, name: &str, kind: u32, data: &[u8]) -> Result<()> {
        if name.encode_utf16().count() > 16383 {
            return Err(Error::Invalid(
                "value name longer than 16383 characters".into(),
            ));
        }
        let existing = Key::at(self, key)?.value(name)?.map(|v| v.offset());
        let (size, data_off) = self.store_data(data)?;
        let name_utf16_len;
        if let Some(v) = existing {
            self.free_value_data(v)?;
            let cell = self.cell_mut(v)?;
            write_u32(cell, vk::DATA_SIZE, size);
            write_u32(cell, vk::DATA, data_off);
            write_u32(cell, vk::TYPE, kind);
            name_utf16_len = Value::at(self, v)?.raw_name().utf16_len() as u32;
        } else {
            let (name_bytes, compressed) = if name.is_empty() {
                (Vec::new(), false)
            } else {
                encode_name(name)
            };
            let mut bytes = vec![0u8; vk::NAME + name_bytes.len()];
            bytes[..2].copy_from_slice(b"vk");
            write_u16(&mut bytes, vk::NAME_LEN, name_bytes.len() as u16);
            write_u32(&mut bytes, vk::DATA_SIZE, size);
            write_u32(&mut bytes, vk::DATA, data_off);
            write_u32(&mut bytes, vk::TYPE, kind);
            write_u16(
                &mut bytes,
                vk::FLAGS,
                if compressed { vk::COMP_NAME } else { 0 },
            );
            bytes[vk::NAME..].copy_from_slice(&name_bytes);
            let vk_cell = self.alloc_with(&bytes)?;
            let mut list = Key::at(self, key)?.value_offsets()?;
            list.push(vk_cell);
            let list_bytes: Vec<u8> = list.iter().flat_map(|o| o.to_le_bytes()).collect();
            let old = self.nk_u32(key, nk::VALUE_LIST)?;
            let new_list = if old == NULL || Key::at(self, key)?.value_count() == 0 {
                self.alloc_with(&list_bytes)?
            } else {
                self.rewrite_cell(old, &list_bytes)?
            };
            self.nk_set_u32(key, nk::VALUE_LIST, new_list)?;
            self.nk_set_u32(key, nk::VALUE_COUNT, list.len() as u32)?;
            name_utf16_len = RawName {
                bytes: &name_bytes,
                compressed,
            }
            .utf16_len() as u32;
        }
        self.raise_largest(key, nk::MAX_VALUE_NAME, name_utf16_len)?;
        self.raise_largest(key, nk::MAX_VALUE_DATA, data.len() as u32)?;
        self.set_last_written(key, filetime_now())
    }

    /// Deletes a value; a missing value is an error naming it.
    pub fn delete_value(&mut self, key: u32, name: &str) -> Result<()> {
        let k = Key::at(self, key)?;
        let Some(v) = k.value(name)? else {
            return Err(Error::ValueNotFound {
                key: k.name(),
                name: name.to_string(),
            });
        };
        let victim = v.offset();
        let mut list = k.value_offsets()?;
        list.retain(|&o| o != victim);
        self.free_value(victim)?;
        let old = self.nk_u32(key, nk::VALUE_LIST)?;
        if list.is_empty() {
            self.free_cell(old)?;
            self.nk_set_u32(key, nk::VALUE_LIST, NULL)?;
        } else {
            let bytes: Vec<u8> = list.iter().flat_map(|o| o.to_le_bytes()).collect();
            let cell = self.cell_mut(old)?;
            cell[..bytes.len()].copy_from_slice(&bytes);
            cell[bytes.len()..].fill(0);
        }
        self.nk_set_u32(key, nk::VALUE_COUNT, list.len() as u32)?;
        self.set_last_written(key, filetime_now())
    }

    /// Sets (or with `None` removes) a key's class name.
    pub fn set_class(&mut self, key: u32, class: Option<&str>) -> Result<()> {
        let old = Key::at(self, key)?.class_offset();
        if old != NULL {
            self.free_cell(old)?;
        }
        let (off, len) = match class {
            Some(c) if !c.is_empty() => {
                let bytes: Vec<u8> = c.encode_utf16().flat_map(u16::to_le_bytes).collect();
                let len = u16::try_from(bytes.len())
                    .map_err(|_| Error::Invalid("class name too long".into()))?;
                (self.alloc_with(&bytes)?, len)
            }
            _ => (NULL, 0),
        };
        self.nk_set_u32(key, nk::CLASS, off)?;
        write_u16(self.cell_mut(key)?, nk::CLASS_LEN, len);
        if len > 0 {
            let parent = Key::at(self, key)?.parent_offset();
            if key != self.root_offset() {
                self.raise_largest(parent, nk::MAX_SUBKEY_CLASS, u32::from(len))?;
            }
        }
        Ok(())
    }
}
