//! The machine panel (computer name, AD domain, Entra tenant, as `admu info` shows
//! them) and the banner that offers `recover` when a journal did not finish.

use eframe::egui::{self, Color32, RichText};
use engine::machine::MachineInfo;
use engine::migrate::Unfinished;

use crate::worker::Loaded;

pub const RECOVER: &str = "Recover (roll back)";
const BANNER: Color32 = Color32::from_rgb(0xf6, 0xd3, 0x65);

/// The panel's grid: what the machine is and what admu works on.
pub fn ui(ui: &mut egui::Ui, loaded: Option<&Result<Loaded, String>>) {
    let loaded = match loaded {
        None => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the machine…");
            });
            return;
        }
        Some(Err(e)) => {
            ui.colored_label(crate::checks::FAIL, e);
            return;
        }
        Some(Ok(l)) => l,
    };
    egui::Grid::new("machine-grid")
        .num_columns(4)
        .spacing([16.0, 4.0])
        .show(ui, |ui| match &loaded.machine {
            Ok(m) => machine_rows(ui, m, loaded),
            Err(e) => {
                ui.label("Machine:");
                ui.colored_label(crate::checks::FAIL, e);
                ui.end_row();
            }
        });
}

fn machine_rows(ui: &mut egui::Ui, m: &MachineInfo, loaded: &Loaded) {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    pair(
        ui,
        "Computer",
        m.computer_name.as_deref().unwrap_or("(unknown)"),
    );
    pair(ui, "Membership", &m.join_summary());
    ui.end_row();
    let domain = match (&m.ad_domain, &m.ad_dns_domain) {
        (Some(d), Some(dns)) => format!("{d} ({dns})"),
        (d, _) => dash(d),
    };
    pair(ui, "AD domain", &domain);
    let tenant = match (&m.entra_tenant_name, &m.entra_tenant_id) {
        (Some(n), Some(t)) => format!("{n} ({t})"),
        (_, t) => dash(t),
    };
    pair(ui, "Entra tenant", &tenant);
    ui.end_row();
    let mode = if loaded.live {
        "live: the Windows admu runs on"
    } else {
        "offline: a mounted Windows volume"
    };
    pair(ui, "Working on", &loaded.describe);
    pair(ui, "Mode", mode);
    ui.end_row();
}

fn pair(ui: &mut egui::Ui, name: &str, value: &str) {
    ui.label(RichText::new(format!("{name}:")).strong());
    ui.label(value);
}

/// The journals `recover` has work for.
pub fn unfinished(loaded: Option<&Result<Loaded, String>>) -> Vec<&Unfinished> {
    match loaded {
        Some(Ok(Loaded {
            journals: Ok(j), ..
        })) => j.iter().filter(|j| !j.finished).collect(),
        _ => Vec::new(),
    }
}

/// The banner: each unfinished journal and a button to roll it back. True when the
/// button was pressed.
pub fn banner(ui: &mut egui::Ui, journals: &[&Unfinished], enabled: bool) -> bool {
    let mut pressed = false;
    egui::Frame::new()
        .fill(BANNER)
        .inner_margin(8.0)
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            for j in journals {
                ui.label(
                    RichText::new(format!(
                        "Warning: migration {} ({} -> {}) did not finish: {}.",
                        j.id,
                        j.old_sid.as_deref().unwrap_or("?"),
                        j.account.as_deref().unwrap_or("?"),
                        j.status
                    ))
                    .color(Color32::BLACK)
                    .strong(),
                );
                if let Some(r) = &j.refused {
                    ui.label(
                        RichText::new(format!("Its journal is refused: {r}")).color(Color32::BLACK),
                    );
                }
            }
            ui.label(
                RichText::new(
                    "Nothing can be migrated until it is rolled back. Recover undoes every \
                     step it made, from its journal (admu recover).",
                )
                .color(Color32::BLACK),
            );
            pressed = ui
                .add_enabled(enabled, egui::Button::new(RECOVER))
                .on_disabled_hover_text(crate::form::BUSY)
                .clicked();
        });
    pressed
}
