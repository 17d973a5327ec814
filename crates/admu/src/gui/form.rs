//! The form: the new local account, its password (twice), and the CLI's options. It
//! only gathers what the admin typed into a `MigrateRequest`; the engine judges it.

use eframe::egui::{self, RichText};
use engine::migrate::{Check, MigrateRequest, Secret};

use crate::jc_form::JcForm;
use crate::more_form::MoreForm;
use crate::secret::SecretText;
use crate::worker::Submission;

/// The tooltip of an option that only the running Windows can carry out.
pub const LIVE_ONLY: &str = "Needs the live system: run admu gui on the Windows it migrates, \
                             without --root";

/// The tooltip of a field while a job runs.
pub const BUSY: &str = "Wait until the running job ends";

pub const USERNAME: &str = "New local username";
pub const PASSWORD: &str = "Password";
pub const CONFIRM: &str = "Password again";
pub const SHOW_PASSWORD: &str = "Show password";

/// The form's fields; `Debug` never shows the passwords.
#[derive(Debug)]
pub struct Form {
    pub username: String,
    pub password: SecretText,
    pub confirm: SecretText,
    pub show_password: bool,
    pub admin: bool,
    pub keep_groups: bool,
    /// `--acl-mode add` (keep the old SID's entries) instead of replace.
    pub acl_add: bool,
    pub default_user: bool,
    pub logoff: bool,
    pub block_logon: bool,
    pub leave_domain: bool,
    pub reboot: bool,
    pub reboot_secs: u32,
    pub remove_mdm: bool,
    pub remove_hello: bool,
    pub sweep_files: bool,
    /// DPAPI and the advanced options.
    pub more: MoreForm,
    pub jc: JcForm,
}

impl Default for Form {
    fn default() -> Self {
        Form {
            username: String::new(),
            password: SecretText::new(),
            confirm: SecretText::new(),
            show_password: false,
            admin: false,
            keep_groups: false,
            acl_add: false,
            default_user: true,
            logoff: false,
            block_logon: false,
            leave_domain: false,
            reboot: false,
            reboot_secs: 30,
            remove_mdm: false,
            remove_hello: false,
            sweep_files: false,
            more: MoreForm::default(),
            jc: JcForm::default(),
        }
    }
}

/// The ids of the secret fields (password, password again, the old password, the
/// JumpCloud API key), to forget what egui kept of them.
pub fn password_ids() -> [egui::Id; 4] {
    [
        egui::Id::unique("admu-password"),
        egui::Id::unique("admu-password-again"),
        egui::Id::unique("admu-old-password"),
        egui::Id::unique("admu-jc-api-key"),
    ]
}

impl Form {
    /// The request for the profile `from` (its SID or key), as the CLI builds it from
    /// `--from`, `--to`, the password and the option flags.
    pub fn request(&self, from: &str) -> MigrateRequest {
        let mut req = MigrateRequest::new(from, self.username.trim());
        req.password = (!self.password.is_empty()).then(|| Secret::new(self.password.as_str()));
        req.admin = self.admin;
        req.keep_groups = self.keep_groups;
        req.acl_mode = if self.acl_add {
            ntsec::Mode::Add
        } else {
            ntsec::Mode::Replace
        };
        req.set_default_user = self.default_user;
        req.logoff = self.logoff;
        req.block_logon = self.block_logon;
        req.leave_domain = self.leave_domain;
        req.reboot = self.reboot.then_some(self.reboot_secs);
        req.remove_mdm = self.remove_mdm;
        req.remove_hello = self.remove_hello;
        req.sweep_files = self.sweep_files;
        self.more.apply(&mut req);
        req
    }

    /// The request and the JumpCloud settings, for the worker (which opens JumpCloud
    /// on the machine it works on). Invalid JumpCloud fields are left out here and
    /// shown failed by [`Form::own_checks`].
    pub fn submission(&self, from: &str) -> Submission {
        Submission {
            request: self.request(from),
            jumpcloud: self.jc.settings(self.username.trim()).ok().flatten(),
        }
    }

    /// The window's own checks: what the CLI refuses before the engine sees it.
    pub fn own_checks(&self) -> Vec<Check> {
        let mut checks = vec![self.confirm_check()];
        checks.extend(self.more.checks());
        checks.extend(self.jc.check(self.username.trim()));
        checks
    }

    /// The window's own check: the password was typed the same twice (the CLI reads
    /// it once from a file or a variable, so the engine has no such check).
    pub fn confirm_check(&self) -> Check {
        let same = self.password.as_str() == self.confirm.as_str();
        Check {
            name: "password typed the same twice",
            passed: same,
            reason: if same {
                "both password fields match".into()
            } else {
                "the two password fields differ".into()
            },
        }
    }

    /// Zeroes the secret fields and what egui kept of them.
    pub fn clear_passwords(&mut self, ctx: &egui::Context) {
        let [a, b, old, key] = password_ids();
        self.password.clear_field(ctx, a);
        self.confirm.clear_field(ctx, b);
        self.more.clear_secrets(ctx, old);
        self.jc.api_key.clear_field(ctx, key);
    }

    /// Draws the fields; true when any of them changed.
    pub fn ui(&mut self, ui: &mut egui::Ui, live: bool, enabled: bool) -> bool {
        let mut changed = false;
        ui.add_enabled_ui(enabled, |ui| {
            changed |= self.account_ui(ui);
            ui.add_space(6.0);
            changed |= self.options_ui(ui, live);
            ui.add_space(6.0);
            let [.., old, key] = password_ids();
            changed |= self.more.dpapi_ui(ui, old, !self.show_password);
            ui.add_space(6.0);
            changed |= self.jc.ui(ui, key);
            ui.add_space(6.0);
            changed |= self.more.advanced_ui(ui);
        });
        changed
    }

    fn account_ui(&mut self, ui: &mut egui::Ui) -> bool {
        let mut changed = false;
        let [pw_id, confirm_id, ..] = password_ids();
        egui::Grid::new("account-grid")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                let label = ui.label(USERNAME);
                let r = ui.add(
                    egui::TextEdit::singleline(&mut self.username)
                        .hint_text("e.g. alice")
                        .desired_width(180.0),
                );
                changed |= r.labelled_by(label.id).changed();
                ui.end_row();
                let hidden = !self.show_password;
                for (text, field, id) in [
                    (PASSWORD, &mut self.password, pw_id),
                    (CONFIRM, &mut self.confirm, confirm_id),
                ] {
                    let label = ui.label(text);
                    let r = ui.add(
                        egui::TextEdit::singleline(field.buffer())
                            .id(id)
                            .password(hidden)
                            .desired_width(180.0),
                    );
                    changed |= r.labelled_by(label.id).changed();
                    ui.end_row();
                }
                ui.label("");
                ui.checkbox(&mut self.show_password, SHOW_PASSWORD)
                    .on_hover_text("Show or hide what the password fields hold");
                ui.end_row();
            });
        changed
    }

    fn options_ui(&mut self, ui: &mut egui::Ui, live: bool) -> bool {
        let mut changed = false;
        ui.label(RichText::new("Options").strong());
        changed |= ui
            .checkbox(&mut self.admin, "Make the account a local administrator")
            .on_hover_text("--admin")
            .changed();
        changed |= ui
            .checkbox(&mut self.keep_groups, "Keep the old account's local groups")
            .on_hover_text("--keep-groups")
            .changed();
        changed |= ui
            .checkbox(&mut self.default_user, "Show it as the last user at logon")
            .on_hover_text("Without it: --no-default-user")
            .changed();
        ui.horizontal(|ui| {
            ui.label("ACL mode:");
            changed |= ui
                .radio_value(&mut self.acl_add, false, "replace")
                .on_hover_text("--acl-mode replace: the old SID becomes the new one")
                .changed();
            changed |= ui
                .radio_value(&mut self.acl_add, true, "add")
                .on_hover_text("--acl-mode add: keep the old SID's entries, add the new SID's")
                .changed();
        });
        let beyond: [(&mut bool, &str, &str); 3] = [
            (
                &mut self.remove_mdm,
                "Remove other MDM enrollments (Intune, …)",
                "--remove-mdm: journaled, undone by Revert; JumpCloud's own is kept",
            ),
            (
                &mut self.remove_hello,
                "Clear the old account's Windows Hello",
                "--remove-hello: PIN and fingerprint can be set up again",
            ),
            (
                &mut self.sweep_files,
                "Also rewrite permissions outside the profile",
                "--sweep-files: files elsewhere on the volume that name the old account",
            ),
        ];
        for (value, text, flag) in beyond {
            changed |= ui.checkbox(value, text).on_hover_text(flag).changed();
        }
        // Disabled offline (say why), or with the whole form while a job runs.
        let why = if live { BUSY } else { LIVE_ONLY };
        ui.add_enabled_ui(live, |ui| changed |= self.live_options_ui(ui, why));
        changed
    }

    fn live_options_ui(&mut self, ui: &mut egui::Ui, why: &str) -> bool {
        let mut changed = false;
        let options: [(&mut bool, &str, &str); 3] = [
            (&mut self.logoff, "Sign the user out first", "--logoff"),
            (
                &mut self.block_logon,
                "Block the old account's logon meanwhile",
                "--block-logon",
            ),
            (
                &mut self.leave_domain,
                "Leave the domain / Entra afterwards",
                "--leave-domain",
            ),
        ];
        for (value, text, flag) in options {
            changed |= ui
                .checkbox(value, text)
                .on_hover_text(flag)
                .on_disabled_hover_text(why)
                .changed();
        }
        ui.horizontal(|ui| {
            changed |= ui
                .checkbox(&mut self.reboot, "Restart Windows afterwards")
                .on_hover_text("--reboot SECS")
                .on_disabled_hover_text(why)
                .changed();
            let label = ui.label("after");
            changed |= ui
                .add_enabled(
                    self.reboot,
                    egui::DragValue::new(&mut self.reboot_secs)
                        .range(0..=3600)
                        .suffix(" s"),
                )
                .labelled_by(label.id)
                .on_disabled_hover_text(why)
                .changed();
        });
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_what_the_cli_flags_make() {
        let mut f = Form {
            username: " alice2 ".into(),
            ..Form::default()
        };
        let plain = f.request("S-1-5-21-1-2-3-1104");
        assert_eq!(plain.from, "S-1-5-21-1-2-3-1104");
        assert_eq!(plain.to, "alice2");
        assert!(plain.password.is_none(), "no password typed");
        assert!(plain.set_default_user && !plain.admin && plain.reboot.is_none());
        assert_eq!(plain.acl_mode, ntsec::Mode::Replace);

        f.password.buffer().push_str("pw");
        f.confirm.buffer().push_str("px");
        (f.admin, f.keep_groups, f.acl_add, f.default_user) = (true, true, true, false);
        (f.logoff, f.block_logon, f.leave_domain, f.reboot) = (true, true, true, true);
        let full = f.request("CORP\\alice");
        assert_eq!(full.password.as_ref().map(Secret::expose), Some("pw"));
        assert!(full.admin && full.keep_groups && !full.set_default_user);
        assert_eq!(full.acl_mode, ntsec::Mode::Add);
        assert!(full.logoff && full.block_logon && full.leave_domain);
        assert_eq!(full.reboot, Some(30));
        assert!(!f.confirm_check().passed, "pw and px differ");
        assert!(!format!("{f:?}").contains("pw"), "Debug shows no password");
    }
}
