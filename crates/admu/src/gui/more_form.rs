//! The form's less common options: saved passwords (DPAPI, `--dpapi` with the old
//! password or `--dpapi-backup-key`) and the advanced ones (`--to-existing`,
//! `--replace-existing-profile`, `--map`, `--allow-partial`). Like the rest of the form,
//! it only gathers what was typed; the engine judges it.

use std::path::PathBuf;

use eframe::egui::{self, RichText};
use engine::migrate::{Check, DpapiSource, MigrateRequest, Secret};
use ntsec::SidMap;

use crate::secret::SecretText;

pub const DPAPI: &str = "Carry saved passwords (DPAPI)";
pub const OLD_PASSWORD: &str = "Old account's password";
pub const BACKUP_KEY: &str = "Domain backup key (.pvk)";
pub const TO_EXISTING: &str = "Use an existing local account";
pub const MAPS: &str = "More SID mappings (OLD=NEW, one per line)";
pub const ALLOW_PARTIAL: &str = "Commit even if some file permissions cannot be rewritten";

/// The DPAPI and advanced fields; `Debug` never shows the old password.
#[derive(Debug, Default)]
pub struct MoreForm {
    pub dpapi: bool,
    /// Open the master keys with the domain's backup key instead of the old password.
    pub use_backup_key: bool,
    pub old_password: SecretText,
    pub backup_key: String,
    pub dpapi_partial: bool,
    pub to_existing: bool,
    pub replace_existing_profile: bool,
    /// `--map OLD=NEW`, one per line.
    pub maps: String,
    pub allow_partial: bool,
}

impl MoreForm {
    fn map_lines(&self) -> impl Iterator<Item = &str> {
        self.maps.lines().map(str::trim).filter(|l| !l.is_empty())
    }

    fn dpapi_source(&self) -> Option<DpapiSource> {
        if !self.dpapi {
            return None;
        }
        if self.use_backup_key {
            let path = self.backup_key.trim();
            (!path.is_empty()).then(|| DpapiSource::BackupKey(PathBuf::from(path)))
        } else {
            (!self.old_password.is_empty())
                .then(|| DpapiSource::OldPassword(Secret::new(self.old_password.as_str())))
        }
    }

    /// Puts these options into `req`, as `Options::apply` does for the CLI's flags. An
    /// invalid mapping is left out here and shown failed by [`MoreForm::checks`].
    pub fn apply(&self, req: &mut MigrateRequest) {
        req.to_existing = self.to_existing;
        req.replace_existing_profile = self.to_existing && self.replace_existing_profile;
        req.extra_map = SidMap::from_pairs(self.map_lines()).unwrap_or_default();
        req.allow_partial = self.allow_partial;
        req.dpapi = self.dpapi_source();
        req.dpapi_partial = self.dpapi && self.dpapi_partial;
    }

    /// The window's checks of these fields: what the CLI refuses as a usage error.
    pub fn checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        if self.map_lines().next().is_some() {
            let parsed = SidMap::from_pairs(self.map_lines());
            checks.push(Check {
                name: "SID mappings are OLD=NEW pairs",
                passed: parsed.is_ok(),
                reason: match parsed {
                    Ok(m) => format!("{} mapping(s)", m.len()),
                    Err(e) => e.to_string(),
                },
            });
        }
        if self.dpapi {
            let given = self.dpapi_source().is_some();
            checks.push(Check {
                name: "DPAPI: what opens the master keys",
                passed: given,
                reason: match (given, self.use_backup_key) {
                    (true, true) => "the domain's backup key".into(),
                    (true, false) => "the old account's password".into(),
                    (false, true) => "give the path of the domain's backup key (.pvk)".into(),
                    (false, false) => "type the old account's password".into(),
                },
            });
        }
        checks
    }

    /// Zeroes the old password and what egui kept of it.
    pub fn clear_secrets(&mut self, ctx: &egui::Context, field: egui::Id) {
        self.old_password.clear_field(ctx, field);
    }

    /// Draws the DPAPI section; true when a field changed.
    pub fn dpapi_ui(&mut self, ui: &mut egui::Ui, password_id: egui::Id, hidden: bool) -> bool {
        let mut changed = false;
        ui.label(RichText::new("Saved passwords").strong());
        changed |= ui
            .checkbox(&mut self.dpapi, DPAPI)
            .on_hover_text("--dpapi: re-protect the DPAPI master keys for the new account")
            .changed();
        if !self.dpapi {
            return changed;
        }
        ui.indent("dpapi-options", |ui| {
            ui.horizontal(|ui| {
                changed |= ui
                    .radio_value(&mut self.use_backup_key, false, "old password")
                    .changed();
                changed |= ui
                    .radio_value(&mut self.use_backup_key, true, "domain backup key")
                    .on_hover_text("--dpapi-backup-key FILE.pvk")
                    .changed();
            });
            let (text, field, id) = if self.use_backup_key {
                (BACKUP_KEY, &mut self.backup_key, None)
            } else {
                (OLD_PASSWORD, self.old_password.buffer(), Some(password_id))
            };
            ui.horizontal(|ui| {
                let label = ui.label(text);
                let mut edit = egui::TextEdit::singleline(field).desired_width(180.0);
                if let Some(id) = id {
                    edit = edit.id(id).password(hidden);
                }
                changed |= ui.add(edit).labelled_by(label.id).changed();
            });
            changed |= ui
                .checkbox(
                    &mut self.dpapi_partial,
                    "Carry the keys that open, leave the rest",
                )
                .on_hover_text("--dpapi-partial")
                .changed();
        });
        changed
    }

    /// Draws the advanced section (collapsed at first); true when a field changed.
    pub fn advanced_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        egui::CollapsingHeader::new("Advanced")
            .id_salt("advanced")
            .show(ui, |ui| {
                changed |= ui
                    .checkbox(&mut self.to_existing, TO_EXISTING)
                    .on_hover_text("--to-existing: the username names an account that exists")
                    .changed();
                ui.add_enabled_ui(self.to_existing, |ui| {
                    changed |= ui
                        .checkbox(
                            &mut self.replace_existing_profile,
                            "Replace that account's own profile",
                        )
                        .on_hover_text("--replace-existing-profile")
                        .changed();
                });
                changed |= ui
                    .checkbox(&mut self.allow_partial, ALLOW_PARTIAL)
                    .on_hover_text(
                        "--allow-partial: every failure is listed; without it one rolls back",
                    )
                    .changed();
                let label = ui.label(MAPS);
                changed |= ui
                    .add(
                        egui::TextEdit::multiline(&mut self.maps)
                            .hint_text("S-1-5-21-…-513=S-1-5-32-545")
                            .desired_rows(2)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(label.id)
                    .on_hover_text("--map OLD=NEW: the old domain's groups, for descriptors")
                    .changed();
            });
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_are_what_the_cli_flags_make() {
        let mut f = MoreForm::default();
        let mut req = MigrateRequest::new("S-1-5-21-1-2-3-1104", "alice2");
        f.apply(&mut req);
        assert!(req.dpapi.is_none() && !req.to_existing && !req.allow_partial);
        assert!(f.checks().is_empty(), "nothing to check");

        f.dpapi = true;
        assert!(!f.checks()[0].passed, "no password typed");
        f.old_password.buffer().push_str("Old-Pw1");
        (f.to_existing, f.replace_existing_profile, f.allow_partial) = (true, true, true);
        f.maps = "S-1-5-21-1-2-3-513=S-1-5-32-545\n\n".into();
        f.apply(&mut req);
        assert!(matches!(&req.dpapi, Some(DpapiSource::OldPassword(p)) if p.expose() == "Old-Pw1"));
        assert!(req.to_existing && req.replace_existing_profile && req.allow_partial);
        assert_eq!(req.extra_map.len(), 1);
        assert!(f.checks().iter().all(|c| c.passed), "{:?}", f.checks());
        assert!(
            !format!("{f:?}").contains("Old-Pw1"),
            "Debug shows no password"
        );

        f.maps = "S-1-5-21-1-2-3-513".into();
        let bad = f.checks();
        assert!(
            bad.iter().any(|c| !c.passed && c.name.starts_with("SID")),
            "{bad:?}"
        );
        f.use_backup_key = true;
        f.backup_key = "/keys/corp.pvk".into();
        f.apply(&mut req);
        assert!(matches!(&req.dpapi, Some(DpapiSource::BackupKey(p)) if p.ends_with("corp.pvk")));
    }
}
