//! The simulated AWX's JSON, shaped on the real serializers (see the fixtures in
//! tests/fixtures/awx/): `related` links, `summary_fields`, ids as numbers, times with
//! microseconds, `extra_vars` as JSON text. Every URL carries the server's path prefix.

use serde_json::{Map, Value, json};

use super::PREFIX;
use super::story::{API_USER, AwxSim, Job, Kind, Template, USERS, user_id};
use crate::sim::jenkins::Ms;

/// AWX's timestamps: `2019-08-08T19:24:18.329589Z`.
pub(crate) fn time(ms: Ms) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

fn opt_time(ms: Option<Ms>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(time(m)))
}

pub(crate) fn api(path: &str) -> String {
    format!("{PREFIX}/api/v2/{path}")
}

fn user_summary(name: &str) -> Value {
    json!({"id": user_id(name), "username": name, "first_name": "", "last_name": ""})
}

fn launched_by(name: &str) -> Value {
    let id = user_id(name);
    json!({"id": id, "name": name, "type": "user", "url": api(&format!("users/{id}/"))})
}

fn organization() -> Value {
    json!({"id": 1, "name": "Dominion", "description": "Platform operations"})
}

fn project() -> Value {
    json!({"id": 6, "name": "deploy-playbooks", "description": "", "status": "successful", "scm_type": "git", "allow_override": false})
}

fn execution_environment() -> Value {
    json!({"id": 1, "name": "AWX EE (24.6.1)", "description": "", "image": "quay.io/ansible/awx-ee:24.6.1"})
}

fn credentials() -> Value {
    json!([
        {"id": 3, "name": "deploy ssh key", "description": "", "kind": "ssh", "cloud": false},
        {"id": 4, "name": "ECR pull", "description": "", "kind": "aws", "cloud": true}
    ])
}

fn inventory_summary(t: &Template) -> Value {
    match &t.inventory {
        Some(i) => json!({
            "id": i.id, "name": i.name, "description": "",
            "has_active_failures": false, "total_hosts": i.hosts.len(),
            "hosts_with_active_failures": 0, "total_groups": 1,
            "has_inventory_sources": false, "total_inventory_sources": 0,
            "inventory_sources_with_failures": 0, "organization_id": 1, "kind": ""
        }),
        None => Value::Null,
    }
}

fn templates_collection(kind: Kind) -> &'static str {
    match kind {
        Kind::Job => "job_templates",
        Kind::Workflow => "workflow_job_templates",
    }
}

/// A template's status: its current job's, else its last job's, else `never updated`.
fn template_status<'a>(sim: &'a AwxSim, t: &Template, now: Ms) -> (String, Option<&'a Job>) {
    let jobs: Vec<&Job> = sim
        .jobs
        .iter()
        .filter(|j| j.template == t.id && j.created <= now)
        .collect();
    if let Some(current) = jobs.iter().rev().find(|j| !j.is_finished(now)) {
        return (current.status(now).to_string(), jobs.last().copied());
    }
    match jobs.iter().filter(|j| j.is_finished(now)).max_by_key(|j| j.finished) {
        Some(last) => (last.status(now).to_string(), Some(*last)),
        None => ("never updated".to_string(), None),
    }
}

/// A job template or workflow job template (list item and detail are the same shape).
pub(crate) fn template(sim: &AwxSim, t: &Template, now: Ms) -> Value {
    let coll = templates_collection(t.kind);
    let id = t.id;
    let (status, last) = template_status(sim, t, now);
    let last_finished = last.and_then(|j| j.finished.filter(|f| *f <= now));
    let recent: Vec<Value> = sim
        .jobs
        .iter()
        .filter(|j| j.template == id && j.created <= now)
        .rev()
        .take(10)
        .map(|j| {
            json!({
                "id": j.id, "status": j.status(now),
                "finished": opt_time(j.finished.filter(|f| *f <= now)),
                "canceled_on": Value::Null,
                "type": if j.kind == Kind::Job { "job" } else { "workflow_job" }
            })
        })
        .collect();
    let mut related = json!({
        "named_url": api(&format!("{coll}/{}++Dominion/", t.name)),
        "created_by": api("users/1/"),
        "modified_by": api("users/1/"),
        "labels": api(&format!("{coll}/{id}/labels/")),
        "launch": api(&format!("{coll}/{id}/launch/")),
        "schedules": api(&format!("{coll}/{id}/schedules/")),
        "activity_stream": api(&format!("{coll}/{id}/activity_stream/")),
        "survey_spec": api(&format!("{coll}/{id}/survey_spec/")),
        "access_list": api(&format!("{coll}/{id}/access_list/")),
        "object_roles": api(&format!("{coll}/{id}/object_roles/")),
        "copy": api(&format!("{coll}/{id}/copy/")),
        "organization": api("organizations/1/"),
    });
    if let Some(j) = last {
        related["last_job"] = Value::String(api(&format!(
            "{}/{}/",
            if j.kind == Kind::Job { "jobs" } else { "workflow_jobs" },
            j.id
        )));
    }
    let last_job = last.map_or(Value::Null, |j| {
        json!({
            "id": j.id, "name": j.name, "description": "",
            "finished": opt_time(j.finished.filter(|f| *f <= now)),
            "status": j.status(now), "failed": j.failed(now)
        })
    });
    let mut summary = json!({
        "organization": organization(),
        "last_job": last_job,
        "last_update": last_job,
        "created_by": user_summary("admin"),
        "modified_by": user_summary("admin"),
        "object_roles": {
            "admin_role": {"description": "Can manage all aspects of the job template", "name": "Admin", "id": 100 + id},
            "execute_role": {"description": "May run the job template", "name": "Execute", "id": 200 + id},
            "read_role": {"description": "May view settings for the job template", "name": "Read", "id": 300 + id}
        },
        "user_capabilities": {"edit": false, "delete": false, "start": t.can_execute, "schedule": t.can_execute, "copy": false},
        "labels": {"count": 0, "results": []},
        "recent_jobs": recent,
    });
    if t.survey_enabled() {
        summary["survey"] = json!({"title": "", "description": ""});
    }
    let mut v = json!({
        "id": id,
        "type": if t.kind == Kind::Job { "job_template" } else { "workflow_job_template" },
        "url": api(&format!("{coll}/{id}/")),
        "related": related,
        "summary_fields": summary,
        "created": time(t.created),
        "modified": time(t.modified),
        "name": t.name,
        "description": t.description,
        "last_job_run": opt_time(last_finished),
        "last_job_failed": last.is_some_and(|j| j.failed(now)),
        "next_job_run": Value::Null,
        "status": status,
        "extra_vars": t.extra_vars,
        "organization": 1,
        "survey_enabled": t.survey_enabled(),
        "allow_simultaneous": false,
        "ask_variables_on_launch": t.ask_variables,
        "ask_inventory_on_launch": false,
        "ask_limit_on_launch": false,
        "ask_scm_branch_on_launch": false,
        "ask_tags_on_launch": false,
        "ask_skip_tags_on_launch": false,
        "ask_labels_on_launch": false,
        "webhook_service": "",
        "webhook_credential": Value::Null,
    });
    if t.kind == Kind::Job {
        let extra = json!({
            "job_type": "run",
            "inventory": t.inventory.as_ref().map(|i| i.id),
            "project": 6,
            "playbook": t.playbook,
            "scm_branch": "",
            "forks": 0,
            "limit": "",
            "verbosity": 0,
            "job_tags": "",
            "force_handlers": false,
            "skip_tags": "",
            "start_at_task": "",
            "timeout": 0,
            "use_fact_cache": false,
            "host_config_key": "",
            "ask_diff_mode_on_launch": false,
            "ask_job_type_on_launch": false,
            "ask_verbosity_on_launch": false,
            "ask_credential_on_launch": false,
            "ask_execution_environment_on_launch": false,
            "ask_forks_on_launch": false,
            "ask_job_slice_count_on_launch": false,
            "ask_timeout_on_launch": false,
            "ask_instance_groups_on_launch": false,
            "become_enabled": true,
            "diff_mode": false,
            "custom_virtualenv": Value::Null,
            "job_slice_count": 1,
            "webhook_key": "",
            "execution_environment": 1,
            "prevent_instance_group_fallback": false,
        });
        merge(&mut v, extra);
        v["related"]["jobs"] = Value::String(api(&format!("job_templates/{id}/jobs/")));
        v["related"]["inventory"] = Value::String(api(&format!("inventories/{}/", 20 + id)));
        v["related"]["project"] = Value::String(api("projects/6/"));
        v["related"]["credentials"] = Value::String(api(&format!("job_templates/{id}/credentials/")));
        v["summary_fields"]["inventory"] = inventory_summary(t);
        v["summary_fields"]["project"] = project();
        v["summary_fields"]["credentials"] = credentials();
        v["summary_fields"]["execution_environment"] = execution_environment();
    } else {
        merge(
            &mut v,
            json!({"inventory": Value::Null, "limit": Value::Null, "scm_branch": Value::Null,
                   "job_tags": Value::Null, "skip_tags": Value::Null}),
        );
        v["related"]["workflow_jobs"] = Value::String(api(&format!("workflow_job_templates/{id}/workflow_jobs/")));
        v["related"]["workflow_nodes"] = Value::String(api(&format!("workflow_job_templates/{id}/workflow_nodes/")));
    }
    v
}

fn merge(v: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(from)) = (v, extra) {
        into.extend(from);
    }
}

fn vars_text(vars: &Map<String, Value>) -> String {
    Value::Object(vars.clone()).to_string()
}

/// A job or workflow job. `detail` adds what AWX's list views strip.
pub(crate) fn job(sim: &AwxSim, j: &Job, now: Ms, detail: bool) -> Value {
    let id = j.id;
    let template = sim.template(j.template);
    let tname = template.map_or("", |t| t.name.as_str());
    let status = j.status(now);
    let started = (now >= j.started).then_some(j.started);
    let finished = j.finished.filter(|f| now >= *f);
    let workflow = j.workflow.and_then(|w| sim.job(w));
    let mut v = json!({
        "id": id,
        "type": if j.kind == Kind::Job { "job" } else { "workflow_job" },
        "created": time(j.created),
        "modified": time(finished.or(started).unwrap_or(j.created)),
        "name": j.name,
        "description": "",
        "unified_job_template": j.template,
        "launch_type": j.launch_type,
        "status": status,
        "failed": j.failed(now),
        "started": opt_time(started),
        "finished": opt_time(finished),
        "canceled_on": opt_time(finished.filter(|_| status == "canceled")),
        "elapsed": j.elapsed(now),
        "job_explanation": j.explanation,
        "launched_by": launched_by(&j.launched_by),
        "work_unit_id": Value::Null,
        "extra_vars": vars_text(&j.extra_vars),
        "allow_simultaneous": false,
        "webhook_service": "",
        "webhook_credential": Value::Null,
        "webhook_guid": "",
    });
    let user = user_id(&j.launched_by);
    let mut summary = json!({
        "organization": organization(),
        "created_by": user_summary(&j.launched_by),
        "user_capabilities": {"delete": false, "start": template.is_some_and(|t| t.can_execute)},
        "labels": {"count": 0, "results": []},
    });
    if let Some(w) = workflow {
        summary["source_workflow_job"] = json!({
            "id": w.id, "name": w.name, "description": "",
            "status": w.status(now), "failed": w.failed(now), "elapsed": w.elapsed(now)
        });
    }
    if j.kind == Kind::Job {
        let coll = "jobs";
        let mut related = json!({
            "created_by": api(&format!("users/{user}/")),
            "labels": api(&format!("{coll}/{id}/labels/")),
            "inventory": api(&format!("inventories/{}/", template.and_then(|t| t.inventory.as_ref()).map_or(0, |i| i.id))),
            "project": api("projects/6/"),
            "organization": api("organizations/1/"),
            "credentials": api(&format!("{coll}/{id}/credentials/")),
            "unified_job_template": api(&format!("job_templates/{}/", j.template)),
            "stdout": api(&format!("{coll}/{id}/stdout/")),
            "execution_environment": api("execution_environments/1/"),
            "job_events": api(&format!("{coll}/{id}/job_events/")),
            "job_host_summaries": api(&format!("{coll}/{id}/job_host_summaries/")),
            "activity_stream": api(&format!("{coll}/{id}/activity_stream/")),
            "notifications": api(&format!("{coll}/{id}/notifications/")),
            "create_schedule": api(&format!("{coll}/{id}/create_schedule/")),
            "job_template": api(&format!("job_templates/{}/", j.template)),
            "cancel": api(&format!("{coll}/{id}/cancel/")),
            "relaunch": api(&format!("{coll}/{id}/relaunch/")),
        });
        if let Some(w) = j.workflow {
            related["source_workflow_job"] = Value::String(api(&format!("workflow_jobs/{w}/")));
        }
        v["url"] = Value::String(api(&format!("{coll}/{id}/")));
        v["related"] = related;
        if let Some(t) = template {
            summary["inventory"] = inventory_summary(t);
        }
        summary["execution_environment"] = execution_environment();
        summary["project"] = project();
        summary["job_template"] = json!({"id": j.template, "name": tname, "description": ""});
        summary["unified_job_template"] =
            json!({"id": j.template, "name": tname, "description": "", "unified_job_type": "job"});
        summary["instance_group"] = json!({"id": 2, "name": "default", "is_container_group": true});
        summary["credentials"] = credentials();
        let hosts = template.and_then(|t| t.inventory.as_ref()).map_or(0, |i| i.hosts.len());
        merge(
            &mut v,
            json!({
                "job_type": "run",
                "inventory": template.and_then(|t| t.inventory.as_ref()).map(|i| i.id),
                "project": 6,
                "playbook": template.map_or("", |t| t.playbook.as_str()),
                "scm_branch": "",
                "forks": 0,
                "limit": "",
                "verbosity": 0,
                "job_tags": "",
                "force_handlers": false,
                "skip_tags": "",
                "start_at_task": "",
                "timeout": 0,
                "use_fact_cache": false,
                "organization": 1,
                "execution_environment": 1,
                "execution_node": if started.is_some() { "awx-task-7c9d5" } else { "" },
                "controller_node": if started.is_some() { "awx-task-7c9d5" } else { "" },
                "job_template": j.template,
                "passwords_needed_to_start": [],
                "artifacts": {},
                "scm_revision": crate::sim::ids::hex(sim.seed, &["awx-scm", &j.template.to_string()], 40),
                "instance_group": 2,
                "diff_mode": false,
                "job_slice_number": 0,
                "job_slice_count": 1,
            }),
        );
        if detail {
            merge(
                &mut v,
                json!({
                    "job_args": format!("[\"ansible-playbook\", \"-u\", \"deploy\", \"-i\", \"/runner/inventory/hosts\", \"-e\", \"@/runner/env/extravars\", \"{}\"]",
                        template.map_or("", |t| t.playbook.as_str())),
                    "job_cwd": "/runner/project",
                    "job_env": {"JOB_ID": id.to_string(), "AWX_HOST": "https://awx.dominion.example", "ANSIBLE_FORCE_COLOR": "True"},
                    "result_traceback": "",
                    "event_processing_finished": finished.is_some(),
                    "host_status_counts": if finished.is_some() { json!({"ok": hosts}) } else { json!({}) },
                    "playbook_counts": {"play_count": 1, "task_count": 9},
                    "custom_virtualenv": Value::Null,
                }),
            );
        }
    } else {
        let coll = "workflow_jobs";
        v["url"] = Value::String(api(&format!("{coll}/{id}/")));
        v["related"] = json!({
            "created_by": api(&format!("users/{user}/")),
            "unified_job_template": api(&format!("workflow_job_templates/{}/", j.template)),
            "workflow_job_template": api(&format!("workflow_job_templates/{}/", j.template)),
            "notifications": api(&format!("{coll}/{id}/notifications/")),
            "workflow_nodes": api(&format!("{coll}/{id}/workflow_nodes/")),
            "labels": api(&format!("{coll}/{id}/labels/")),
            "activity_stream": api(&format!("{coll}/{id}/activity_stream/")),
            "relaunch": api(&format!("{coll}/{id}/relaunch/")),
            "cancel": api(&format!("{coll}/{id}/cancel/")),
        });
        summary["workflow_job_template"] = json!({"id": j.template, "name": tname, "description": ""});
        summary["unified_job_template"] =
            json!({"id": j.template, "name": tname, "description": "", "unified_job_type": "workflow_job"});
        merge(
            &mut v,
            json!({
                "workflow_job_template": j.template,
                "job_template": Value::Null,
                "is_sliced_job": false,
                "inventory": Value::Null,
                "limit": Value::Null,
                "scm_branch": Value::Null,
                "job_tags": Value::Null,
                "skip_tags": Value::Null,
            }),
        );
        if detail {
            merge(
                &mut v,
                json!({"job_args": "", "job_cwd": "", "job_env": {}, "result_traceback": ""}),
            );
        }
    }
    v["summary_fields"] = summary;
    v
}

/// A workflow approval, as `/api/v2/workflow_approvals/` lists it.
pub(crate) fn approval(sim: &AwxSim, a: &super::story::Approval, now: Ms) -> Value {
    let id = a.id;
    let wf = sim.job(a.workflow_job);
    let wname = wf.map_or("", |w| w.name.as_str());
    let wtemplate = wf.map_or(0, |w| w.template);
    let status = a.status(now);
    let finished = a.finished(now);
    let approval_template = 50 + wtemplate;
    let creator = wf.map_or("admin", |w| w.launched_by.as_str());
    let mut related = json!({
        "created_by": api(&format!("users/{}/", user_id(creator))),
        "unified_job_template": api(&format!("workflow_approval_templates/{approval_template}/")),
        "source_workflow_job": api(&format!("workflow_jobs/{}/", a.workflow_job)),
        "workflow_approval_template": api(&format!("workflow_approval_templates/{approval_template}/")),
        "approve": api(&format!("workflow_approvals/{id}/approve/")),
        "deny": api(&format!("workflow_approvals/{id}/deny/")),
    });
    let mut summary = json!({
        "workflow_job_template": {"id": wtemplate, "name": wname, "description": ""},
        "workflow_job": {"id": a.workflow_job, "name": wname, "description": ""},
        "workflow_approval_template": {"id": approval_template, "name": a.name, "description": a.description, "timeout": a.timeout},
        "unified_job_template": {"id": approval_template, "name": a.name, "description": a.description, "unified_job_type": "workflow_approval"},
        "created_by": user_summary(creator),
        "user_capabilities": {"delete": false, "start": status == "pending"},
        "source_workflow_job": wf.map_or(Value::Null, |w| json!({
            "id": w.id, "name": w.name, "description": "",
            "status": w.status(now), "failed": w.failed(now), "elapsed": w.elapsed(now)
        })),
    });
    if let Some((_, who, _)) = &a.decision {
        related["approved_or_denied_by"] = Value::String(api(&format!("users/{}/", user_id(who))));
        summary["approved_or_denied_by"] = user_summary(who);
    }
    let elapsed = (finished.unwrap_or(now).max(a.created) - a.created) as f64 / 1000.0;
    json!({
        "id": id,
        "type": "workflow_approval",
        "url": api(&format!("workflow_approvals/{id}/")),
        "related": related,
        "summary_fields": summary,
        "created": time(a.created),
        "modified": time(finished.unwrap_or(a.created)),
        "name": a.name,
        "description": a.description,
        "unified_job_template": approval_template,
        "launch_type": "workflow",
        "status": status,
        "failed": status == "failed",
        "started": time(a.created),
        "finished": opt_time(finished),
        "canceled_on": Value::Null,
        "elapsed": elapsed,
        "job_explanation": if a.timed_out(now) { AwxSim::expiry_explanation(a) } else { String::new() },
        "can_approve_or_deny": status == "pending",
        "approval_expiration": if status == "pending" { opt_time(a.expires_at()) } else { Value::Null },
        "timed_out": a.timed_out(now),
    })
}

/// `GET …/launch/`: what a launch will prompt for.
pub(crate) fn launch_description(t: &Template) -> Value {
    let needed: Vec<&str> = t.survey.iter().filter(|q| q.required).map(|q| q.variable).collect();
    let data = json!({"name": t.name, "id": t.id, "description": t.description});
    let mut v = json!({
        "can_start_without_user_input": needed.is_empty(),
        "passwords_needed_to_start": [],
        "ask_variables_on_launch": t.ask_variables,
        "ask_limit_on_launch": false,
        "ask_inventory_on_launch": false,
        "ask_scm_branch_on_launch": false,
        "ask_tags_on_launch": false,
        "ask_skip_tags_on_launch": false,
        "ask_labels_on_launch": false,
        "survey_enabled": t.survey_enabled(),
        "variables_needed_to_start": needed,
        "defaults": {"extra_vars": t.extra_vars},
    });
    if t.kind == Kind::Job {
        merge(
            &mut v,
            json!({
                "ask_diff_mode_on_launch": false,
                "ask_job_type_on_launch": false,
                "ask_verbosity_on_launch": false,
                "ask_credential_on_launch": false,
                "ask_execution_environment_on_launch": false,
                "credential_needed_to_start": false,
                "inventory_needed_to_start": false,
                "job_template_data": data,
            }),
        );
        v["defaults"] = json!({
            "extra_vars": t.extra_vars, "diff_mode": false, "limit": "", "job_tags": "", "skip_tags": "",
            "job_type": "run", "verbosity": 0,
            "inventory": t.inventory.as_ref().map_or(Value::Null, |i| json!({"name": i.name, "id": i.id})),
            "credentials": credentials(), "scm_branch": ""
        });
    } else {
        merge(
            &mut v,
            json!({"node_templates_missing": [], "node_prompts_rejected": [], "workflow_job_template_data": data}),
        );
    }
    v
}

/// `GET …/survey_spec/`: `{}` without a survey.
pub(crate) fn survey_spec(t: &Template) -> Value {
    if !t.survey_enabled() {
        return json!({});
    }
    let spec: Vec<Value> = t
        .survey
        .iter()
        .map(|q| {
            json!({
                "question_name": q.name, "question_description": q.description,
                "required": q.required, "type": "text", "variable": q.variable,
                "min": 0, "max": 1024, "default": "", "choices": "", "new_question": false
            })
        })
        .collect();
    json!({"name": "", "description": "", "spec": spec})
}

/// `GET /api/v2/me/`: a one-item page with the signed-in user.
pub(crate) fn me(user: &str) -> Value {
    let id = user_id(user);
    let known = USERS.iter().any(|(_, n)| *n == user);
    json!({
        "count": 1, "next": Value::Null, "previous": Value::Null,
        "results": [{
            "id": id, "type": "user", "url": api(&format!("users/{id}/")),
            "username": if known { user } else { API_USER },
            "first_name": "", "last_name": "", "email": format!("{user}@dominion.example"),
            "is_superuser": false, "is_system_auditor": false, "ldap_dn": "", "last_login": Value::Null,
            "external_account": Value::Null, "auth": []
        }]
    })
}
