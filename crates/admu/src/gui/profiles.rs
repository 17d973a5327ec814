//! The Profiles tab (the rows of `admu list`) and the Migrated tab (admu's journals,
//! with Revert on the committed ones).

use eframe::egui::{self, RichText};
use engine::migrate::{Status, Unfinished};
use engine::profiles::Profile;

use crate::text;

pub const RELOAD: &str = "Reload";
pub const SIZES: &str = "Compute sizes";

/// What the admin did in the Profiles tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfilesAction {
    /// Picked the profile with this ProfileList key.
    Select(String),
    Reload,
    Sizes,
}

const COLUMNS: [&str; 9] = [
    "Account",
    "Kind",
    "SID",
    "Last used",
    "Loaded now",
    "Local admin",
    "Size",
    "Path",
    "State",
];

/// The table: one row per profile, the account cell selects it.
pub fn table(
    ui: &mut egui::Ui,
    rows: &Result<Vec<Profile>, String>,
    selected: Option<&str>,
    sizes: bool,
    enabled: bool,
) -> Option<ProfilesAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.label("Select the domain or Entra profile to migrate.");
        if ui.add_enabled(enabled, egui::Button::new(RELOAD)).clicked() {
            action = Some(ProfilesAction::Reload);
        }
        let sizes_button = ui
            .add_enabled(enabled && !sizes, egui::Button::new(SIZES))
            .on_hover_text("Add up each profile folder's size (walks every file)");
        if sizes_button.clicked() {
            action = Some(ProfilesAction::Sizes);
        }
    });
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            ui.colored_label(crate::checks::FAIL, e);
            return action;
        }
    };
    if rows.is_empty() {
        ui.label("(no profiles)");
        return action;
    }
    egui::ScrollArea::both()
        .id_salt("profiles-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("profiles-grid")
                .striped(true)
                .num_columns(COLUMNS.len())
                .spacing([14.0, 6.0])
                .show(ui, |ui| {
                    for c in COLUMNS {
                        ui.label(RichText::new(c).strong());
                    }
                    ui.end_row();
                    for p in rows {
                        if let Some(a) = row(ui, p, selected, enabled) {
                            action = Some(a);
                        }
                    }
                });
        });
    action
}

fn row(
    ui: &mut egui::Ui,
    p: &Profile,
    selected: Option<&str>,
    enabled: bool,
) -> Option<ProfilesAction> {
    let is_selected = selected == Some(p.key.as_str());
    let pick = ui
        .add_enabled(enabled, egui::Button::selectable(is_selected, &p.account))
        .on_hover_text(format!("Migrate {} ({})", p.account, p.key));
    // Two rows can show the same account (a profile and its `.bak`): screen readers and
    // the UI tests get the key too.
    ui.ctx().accesskit_node_builder(pick.id, |node| {
        node.set_label(row_label(p));
    });
    let cells = [
        text::kind(p.kind).to_string(),
        p.key.clone(),
        text::date(p.last_used),
        text::loaded(p),
        text::yes_no(p.local_admin).to_string(),
        p.size.map(text::size).unwrap_or_else(|| "-".into()),
        p.path.clone().unwrap_or_else(|| "-".into()),
        text::states(&p.states),
    ];
    for c in cells {
        ui.label(c);
    }
    ui.end_row();
    (pick.clicked() && !is_selected).then(|| ProfilesAction::Select(p.key.clone()))
}

/// What a screen reader calls a profile's row: "CORP\\alice (S-1-5-21-…)".
pub fn row_label(p: &Profile) -> String {
    format!("{} ({})", p.account, p.key)
}

/// The label of the Revert button of a migration to `account`.
pub fn revert_label(account: &str) -> String {
    format!("Revert {account}")
}

/// The Migrated tab: every journal, newest first; Revert on the committed ones. Returns
/// the journal whose Revert was pressed.
pub fn migrated(
    ui: &mut egui::Ui,
    journals: &Result<Vec<Unfinished>, String>,
    enabled: bool,
) -> Option<Unfinished> {
    let journals = match journals {
        Ok(j) => j,
        Err(e) => {
            ui.colored_label(crate::checks::FAIL, e);
            return None;
        }
    };
    ui.label(
        "Migrations admu made on this machine, from their journals. Revert undoes a \
         committed one exactly: the profile belongs to the old account again and the new \
         account is removed.",
    );
    if journals.is_empty() {
        ui.label("(no migrations)");
        return None;
    }
    let mut pressed = None;
    egui::ScrollArea::both()
        .id_salt("migrated-scroll")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            egui::Grid::new("migrated-grid")
                .striped(true)
                .num_columns(6)
                .spacing([14.0, 6.0])
                .show(ui, |ui| {
                    for c in ["", "Account", "Status", "Old SID", "New SID", "Migration"] {
                        ui.label(RichText::new(c).strong());
                    }
                    ui.end_row();
                    for j in journals.iter().rev() {
                        if journal_row(ui, j, enabled) {
                            pressed = Some(j.clone());
                        }
                    }
                });
        });
    pressed
}

fn journal_row(ui: &mut egui::Ui, j: &Unfinished, enabled: bool) -> bool {
    let account = j.account.clone().unwrap_or_else(|| "?".into());
    // The button first, where it is seen without scrolling.
    let pressed = if j.status == Status::Committed && j.refused.is_none() {
        ui.add_enabled(enabled, egui::Button::new(revert_label(&account)))
            .on_hover_text(format!("admu revert --name {account}"))
            .on_disabled_hover_text(crate::form::BUSY)
            .clicked()
    } else {
        ui.label("");
        false
    };
    ui.label(&account);
    match &j.refused {
        Some(r) => ui.colored_label(crate::checks::FAIL, format!("{}: REFUSED: {r}", j.status)),
        None => ui.label(j.status.to_string()),
    };
    ui.label(j.old_sid.as_deref().unwrap_or("?"));
    ui.label(j.new_sid.as_deref().unwrap_or("?"));
    ui.label(&j.id);
    ui.end_row();
    pressed
}
