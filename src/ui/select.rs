//! Which services are visible under the filter, and what is selected.

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

pub fn selected_service<'a>(state: &'a State, view: &View) -> Option<&'a Service> {
    let visible = visible_services(state, &view.filter);
    visible.get(view.selected.min(visible.len().saturating_sub(1))).copied()
}

/// The build the build pane shows: the selected service's build job, newest first by `build_index`.
pub fn selected_build<'a>(state: &'a State, view: &View) -> Option<(&'a Service, &'a Job, &'a Build)> {
    let service = selected_service(state, view)?;
    let job = state.jobs.get(service.jobs.build.as_ref()?)?;
    let build = job
        .builds
        .get(view.build_index.min(job.builds.len().saturating_sub(1)))?;
    Some((service, job, build))
}
