//! The form's JumpCloud section: the `--jc-*` options of `admu migrate` as fields. It
//! only gathers what the admin typed; `jumpcloud::manager::ManagerSettings::open` (the
//! CLI's path too) turns it into the engine's device manager on the worker thread.

use eframe::egui::{self, RichText};
use engine::migrate::Check;
use jumpcloud::manager::{
    BindOptions, Credentials, ManagerSettings, api_key_from_text, domain_wait,
};
use jumpcloud::{BaseUrl, Region};

use crate::secret::SecretText;

pub const JC_BIND: &str = "Bind the JumpCloud user to this device";
pub const JC_REPORT: &str = "Report progress to JumpCloud";
pub const JC_USER: &str = "JumpCloud username";
pub const JC_API_KEY: &str = "API key";
pub const JC_SYSTEM_CONTEXT: &str = "Sign as this device (agent key)";

/// The environment variable the CLI reads the API key from; an empty key field uses it.
pub const API_KEY_VAR: &str = "JC_API_KEY";

/// Where the API is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Us,
    Eu,
    In,
    /// A URL typed in (`--jc-url`).
    Url,
}

/// The JumpCloud fields; `Debug` never shows the API key.
#[derive(Debug)]
pub struct JcForm {
    pub bind: bool,
    pub report_status: bool,
    /// Empty: the new local username (`--jc-user` defaults to `--to`).
    pub user: String,
    pub admin: bool,
    pub primary_user: bool,
    pub api: Api,
    pub url: String,
    pub system_context: bool,
    pub api_key: SecretText,
    pub org_id: String,
    pub domain_wait_secs: u64,
}

impl Default for JcForm {
    fn default() -> Self {
        JcForm {
            bind: false,
            report_status: false,
            user: String::new(),
            admin: false,
            primary_user: false,
            api: Api::Us,
            url: String::new(),
            system_context: false,
            api_key: SecretText::new(),
            org_id: String::new(),
            domain_wait_secs: 300,
        }
    }
}

impl JcForm {
    /// Whether any JumpCloud work was asked for (as `JcArgs::wanted`).
    pub fn wanted(&self) -> bool {
        self.bind || self.report_status
    }

    fn base(&self) -> Result<BaseUrl, String> {
        match self.api {
            Api::Us => Ok(Region::Us.base_url()),
            Api::Eu => Ok(Region::Eu.base_url()),
            Api::In => Ok(Region::In.base_url()),
            Api::Url => BaseUrl::parse(self.url.trim()).map_err(|e| format!("API URL: {e}")),
        }
    }

    fn credentials(&self) -> Result<Credentials, String> {
        if self.system_context {
            return Ok(Credentials::SystemContext);
        }
        let typed = api_key_from_text(self.api_key.as_str());
        typed
            .or_else(|| {
                std::env::var(API_KEY_VAR)
                    .ok()
                    .and_then(|t| api_key_from_text(&t))
            })
            .map(Credentials::ApiKey)
            .ok_or_else(|| {
                format!(
                    "type the API key, set {API_KEY_VAR} before starting admu, or sign as \
                     this device"
                )
            })
    }

    /// The settings for a migration to the local account `to`; `None` when no
    /// JumpCloud work was asked for, `Err` when a field is missing or wrong.
    pub fn settings(&self, to: &str) -> Result<Option<ManagerSettings>, String> {
        if !self.wanted() {
            return Ok(None);
        }
        let user = self.user.trim();
        Ok(Some(ManagerSettings {
            base: self.base()?,
            credentials: self.credentials()?,
            options: BindOptions {
                user: if user.is_empty() { to } else { user }.to_string(),
                bind: self.bind,
                admin: self.admin,
                primary_user: self.primary_user,
                report_status: self.report_status,
                org_id: Some(self.org_id.trim())
                    .filter(|o| !o.is_empty())
                    .map(str::to_string),
                domain_wait: domain_wait(self.domain_wait_secs),
            },
        }))
    }

    /// The window's check of these fields (the engine's own JumpCloud checks, which ask
    /// the API, come with the preflight).
    pub fn check(&self, to: &str) -> Option<Check> {
        if !self.wanted() {
            return None;
        }
        let result = self.settings(to);
        Some(Check {
            name: "JumpCloud options complete",
            passed: result.is_ok(),
            reason: match result {
                Ok(_) if self.system_context => "signed as this device".into(),
                Ok(_) => "API and key given".into(),
                Err(e) => e,
            },
        })
    }

    /// Draws the section; true when a field changed.
    pub fn ui(&mut self, ui: &mut egui::Ui, key_id: egui::Id) -> bool {
        let mut changed = false;
        ui.label(RichText::new("JumpCloud").strong());
        changed |= ui
            .checkbox(&mut self.bind, JC_BIND)
            .on_hover_text("--jc-bind: after the migration, the agent manages the account")
            .changed();
        changed |= ui
            .checkbox(&mut self.report_status, JC_REPORT)
            .on_hover_text("--jc-report-status: the device's admu attribute and description")
            .changed();
        if !self.wanted() {
            return changed;
        }
        ui.indent("jc-options", |ui| {
            ui.add_enabled_ui(self.bind, |ui| {
                changed |= ui
                    .checkbox(&mut self.admin, "Bind as an administrator")
                    .on_hover_text("--jc-admin")
                    .changed();
                changed |= ui
                    .checkbox(&mut self.primary_user, "Make the user the primary user")
                    .on_hover_text("--jc-primary-user")
                    .changed();
            });
            changed |= self.fields_ui(ui, key_id);
        });
        changed
    }

    fn fields_ui(&mut self, ui: &mut egui::Ui, key_id: egui::Id) -> bool {
        let mut changed = false;
        egui::Grid::new("jc-grid")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                let label = ui.label(JC_USER);
                changed |= ui
                    .add(
                        egui::TextEdit::singleline(&mut self.user)
                            .hint_text("default: the new username")
                            .desired_width(180.0),
                    )
                    .labelled_by(label.id)
                    .changed();
                ui.end_row();
                ui.label("API");
                ui.horizontal(|ui| {
                    for (api, text) in [
                        (Api::Us, "US"),
                        (Api::Eu, "EU"),
                        (Api::In, "IN"),
                        (Api::Url, "URL"),
                    ] {
                        changed |= ui.radio_value(&mut self.api, api, text).changed();
                    }
                });
                ui.end_row();
                if self.api == Api::Url {
                    let label = ui.label("API URL");
                    changed |= ui
                        .add(
                            egui::TextEdit::singleline(&mut self.url)
                                .hint_text("https://console.jumpcloud.com")
                                .desired_width(180.0),
                        )
                        .labelled_by(label.id)
                        .changed();
                    ui.end_row();
                }
                ui.label("");
                changed |= ui
                    .checkbox(&mut self.system_context, JC_SYSTEM_CONTEXT)
                    .on_hover_text("--jc-system-context: no API key needed")
                    .changed();
                ui.end_row();
                if !self.system_context {
                    let label = ui.label(JC_API_KEY);
                    changed |= ui
                        .add(
                            egui::TextEdit::singleline(self.api_key.buffer())
                                .id(key_id)
                                .password(true)
                                .hint_text(format!("empty: {API_KEY_VAR}"))
                                .desired_width(180.0),
                        )
                        .labelled_by(label.id)
                        .changed();
                    ui.end_row();
                    let label = ui.label("Organisation ID");
                    changed |= ui
                        .add(
                            egui::TextEdit::singleline(&mut self.org_id)
                                .hint_text("multi-tenant keys only")
                                .desired_width(180.0),
                        )
                        .labelled_by(label.id)
                        .changed();
                    ui.end_row();
                }
            });
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_what_the_cli_flags_make() {
        let mut f = JcForm::default();
        assert!(f.settings("alice").unwrap().is_none(), "nothing asked");
        assert!(f.check("alice").is_none());
        f.bind = true;
        f.admin = true;
        f.system_context = true;
        let s = f.settings("alice").unwrap().unwrap();
        assert_eq!(s.options.user, "alice", "defaults to the new name");
        assert!(s.options.bind && s.options.admin && !s.options.report_status);
        assert!(matches!(s.credentials, Credentials::SystemContext));
        assert_eq!(s.base, Region::Us.base_url());

        f.system_context = false;
        f.user = " jane.doe ".into();
        f.api_key.buffer().push_str("jcsk-0123");
        f.api = Api::Url;
        f.url = "not a url".into();
        let bad = f.check("alice").unwrap();
        assert!(!bad.passed && bad.reason.starts_with("API URL"), "{bad:?}");
        f.url = "http://127.0.0.1:8080".into();
        let s = f.settings("alice").unwrap().unwrap();
        assert_eq!(s.options.user, "jane.doe");
        assert!(matches!(&s.credentials, Credentials::ApiKey(k) if k.expose() == "jcsk-0123"));
        assert!(
            !format!("{f:?}").contains("jcsk-0123"),
            "Debug shows no key"
        );
    }
}
