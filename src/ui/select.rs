//! Which services are visible under the filter, and what is selected. The app (keys) and the panes
//! (through `Ctx`, which computes the visible list once per frame) share these.

use crate::model::{Build, Job, Service, State};

use super::View;

/// Services matching the filter: a case-insensitive substring of the name, or with a leading `!`,
/// those not matching.
pub fn visible_services<'a>(state: &'a State, filter: &str) -> Vec<&'a Service> {
    let (invert, needle) = match filter.strip_prefix('!') {
        Some(rest) => (true, rest.to_ascii_lowercase()),
        None => (false, filter.to_ascii_lowercase()),
    };
    if needle.is_empty() {
        return state.services.iter().collect();
    }
    state
        .services
        .iter()
        .filter(|s| s.name.to_ascii_lowercase().contains(&needle) != invert)
        .collect()
}

/// The selected one of the visible services (the selection clamps to the list).
pub fn selected_in<'a>(visible: &[&'a Service], view: &View) -> Option<&'a Service> {
    visible.get(view.selected.min(visible.len().saturating_sub(1))).copied()
}

/// The build the build pane shows for a service: its build job's builds, newest first, by `build_index`.
pub fn shown_build<'a>(
    state: &'a State,
    service: &'a Service,
    view: &View,
) -> Option<(&'a Service, &'a Job, &'a Build)> {
    let job = state.jobs.get(service.jobs.build.as_ref()?)?;
    let build = job
        .builds
        .get(view.build_index.min(job.builds.len().saturating_sub(1)))?;
    Some((service, job, build))
}

pub fn selected_service<'a>(state: &'a State, view: &View) -> Option<&'a Service> {
    selected_in(&visible_services(state, &view.filter), view)
}

pub fn selected_build<'a>(state: &'a State, view: &View) -> Option<(&'a Service, &'a Job, &'a Build)> {
    shown_build(state, selected_service(state, view)?, view)
}
