//! Every option, set on the command line, in the environment and in the
//! configuration file: command line > environment > file > default holds for
//! each one.
//!
//! The options are enumerated from the sections' clap commands, so a new
//! option is walked without a case written for it. Sample values come from the
//! option's type; an option of a type this test does not know fails it
//! (add samples for the type). What an option resolved to is compared with
//! what clap alone makes of the winning value on a command line, so the test
//! does not restate the merge.
//!
//! This binary holds one test because it sets environment variables, which
//! no other thread may read meanwhile.

use std::any::TypeId;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cipherlens_control::config::{
    self, CaptureSection, FileConfig, InventorySection, NatsSection, PipelineSection,
    PolicySection, Secret,
};
use clap::builder::Resettable;
use clap::{Arg, ArgAction, Args, Command, FromArgMatches};

/// A section as the walk needs it.
trait Section: Args + FromArgMatches + Clone + PartialEq + Debug {
    const NAME: &'static str;
    fn pick(file: FileConfig) -> Self;
    /// What the sensor uses: secrets named by the file read from it.
    fn settled(self) -> Self {
        self
    }
}

impl Section for CaptureSection {
    const NAME: &'static str = "capture";
    fn pick(file: FileConfig) -> Self {
        file.capture
    }
}

impl Section for PipelineSection {
    const NAME: &'static str = "pipeline";
    fn pick(file: FileConfig) -> Self {
        file.pipeline
    }
}

impl Section for InventorySection {
    const NAME: &'static str = "inventory";
    fn pick(file: FileConfig) -> Self {
        file.inventory
    }
}

impl Section for PolicySection {
    const NAME: &'static str = "policy";
    fn pick(file: FileConfig) -> Self {
        file.policy
    }
}

impl Section for NatsSection {
    const NAME: &'static str = "nats";
    fn pick(file: FileConfig) -> Self {
        file.nats
    }
    fn settled(self) -> Self {
        self.read_secrets().expect("the test's secret files exist")
    }
}

/// One value of an option: as a command-line (or environment) value, and as
/// a TOML value for its key in the file.
#[derive(Clone)]
struct Sample {
    argument: String,
    toml: String,
}

/// The section's arguments, with the environment read as it is now.
/// `requires` is dropped: it concerns the command line alone, and the walk
/// sets one option at a time.
fn command<S: Section>() -> Command {
    S::augment_args(Command::new("precedence")).mut_args(|arg| arg.requires(Resettable::Reset))
}

/// What clap alone makes of `arguments`, without environment or file.
fn on_command_line<S: Section>(arguments: &[String]) -> S {
    let command = command::<S>().mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(
            std::iter::once("precedence".to_string()).chain(arguments.iter().cloned()),
        )
        .unwrap_or_else(|error| panic!("{arguments:?}: {error}"));
    S::from_arg_matches(&matches).expect("matches").settled()
}

/// What the options resolve to with `arguments`, `environment` and a file
/// holding `file` (one `key = value` line) in the section.
fn resolved<S: Section>(
    arguments: &[String],
    environment: Option<(&str, &str)>,
    file: Option<&str>,
) -> S {
    if let Some((name, value)) = environment {
        // SAFETY: this binary runs this one test; no other thread reads the
        // environment while it is changed.
        unsafe { std::env::set_var(name, value) };
    }
    let command = command::<S>();
    if let Some((name, _)) = environment {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }
    let matches = command
        .try_get_matches_from(
            std::iter::once("precedence".to_string()).chain(arguments.iter().cloned()),
        )
        .unwrap_or_else(|error| panic!("{arguments:?}: {error}"));
    let from_file = match file {
        Some(line) => {
            let text = format!("[{}]\n{line}\n", S::NAME);
            S::pick(config::parse(&text).unwrap_or_else(|error| panic!("{text}: {error}")))
        }
        None => S::pick(FileConfig::default()),
    };
    config::overlay(from_file, &matches)
        .expect("overlay")
        .settled()
}

/// Three different values of `arg` (none of them its default, except that
/// an option with three possible values uses its default as the third).
fn samples(arg: &Arg, scratch: &Path) -> [Sample; 3] {
    let id = arg.get_id().as_str();
    let type_id = arg.get_value_parser().type_id();
    let of = |types: &[TypeId]| types.iter().any(|t| type_id == *t);
    let bare = |values: [&str; 3]| {
        values.map(|value| Sample {
            argument: value.to_string(),
            toml: value.to_string(),
        })
    };
    let quoted = |values: [&str; 3]| {
        values.map(|value| Sample {
            argument: value.to_string(),
            toml: format!("{value:?}"),
        })
    };
    if id == "ring_buffer_mib" || id == "tls_ring_buffer_mib" {
        // Its values are powers of two.
        bare(["4", "16", "32"])
    } else if of(&[
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
    ]) {
        bare(["2001", "2002", "2003"])
    } else if of(&[TypeId::of::<String>(), TypeId::of::<PathBuf>()]) {
        quoted(["from-file", "from-environment", "from-command-line"])
    } else if of(&[TypeId::of::<SocketAddr>()]) {
        quoted(["127.0.0.1:2001", "127.0.0.1:2002", "[::1]:2003"])
    } else if of(&[TypeId::of::<Secret>()]) {
        // In the file, the name of a file holding the secret.
        ["from-file", "from-environment", "from-command-line"].map(|value| {
            let path = scratch.join(format!("{id}-{value}"));
            std::fs::write(&path, format!("{value}\n")).expect("secret file");
            Sample {
                argument: value.to_string(),
                toml: format!("{:?}", path.to_str().expect("UTF-8 temp dir")),
            }
        })
    } else if !arg.get_possible_values().is_empty() {
        let default = arg.get_default_values().first().and_then(|d| d.to_str());
        let mut names: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|value| value.get_name().to_string())
            .collect();
        // The default last, so the file's and the environment's differ from it.
        names.sort_by_key(|name| Some(name.as_str()) == default);
        assert!(names.len() >= 3, "{id}: fewer than three possible values");
        let names = [&*names[0], &*names[1], &*names[2]];
        quoted(names)
    } else {
        panic!("--{}: no sample values for its type; add some", long(arg))
    }
}

fn long(arg: &Arg) -> &str {
    arg.get_long()
        .unwrap_or_else(|| panic!("{} has no long flag", arg.get_id()))
}

/// One setting of an option and what it must resolve to.
struct Case<S> {
    name: &'static str,
    arguments: Vec<String>,
    environment: Option<String>,
    /// The `key = value` line in the file.
    file: Option<String>,
    expected: S,
}

/// The precedence cases of `arg`, each with a winner that differs from the
/// values it beats.
fn cases<S: Section>(arg: &Arg, scratch: &Path, defaults: &S) -> Vec<Case<S>> {
    let id = arg.get_id().as_str();
    let flag = format!("--{}", long(arg));
    let has_env = arg.get_env().is_some();
    let case =
        |name, arguments: &[&str], environment: Option<&str>, file: Option<&str>, expected: &S| {
            Case {
                name,
                arguments: arguments.iter().map(|a| a.to_string()).collect(),
                environment: environment.map(str::to_string),
                file: file.map(|value| format!("{id} = {value}")),
                expected: expected.clone(),
            }
        };
    let mut cases = Vec::new();
    match arg.get_action() {
        ArgAction::SetTrue | ArgAction::SetFalse => {
            // The value the flag sets, and the other one (the default).
            let set = matches!(arg.get_action(), ArgAction::SetTrue).to_string();
            let unset = (set != "true").to_string();
            let with_flag: S = on_command_line(std::slice::from_ref(&flag));
            assert_ne!(&with_flag, defaults, "{flag} changes nothing");
            cases.push(case("file over default", &[], None, Some(&set), &with_flag));
            cases.push(case(
                "command line over file",
                &[&flag],
                None,
                Some(&unset),
                &with_flag,
            ));
            if has_env {
                cases.push(case(
                    "environment over file",
                    &[],
                    Some(&set),
                    Some(&unset),
                    &with_flag,
                ));
                cases.push(case(
                    "environment over file",
                    &[],
                    Some(&unset),
                    Some(&set),
                    defaults,
                ));
                cases.push(case(
                    "command line over environment",
                    &[&flag],
                    Some(&unset),
                    None,
                    &with_flag,
                ));
            }
        }
        ArgAction::Set | ArgAction::Append => {
            let [file, environment, command_line] = samples(arg, scratch);
            let toml = if matches!(arg.get_action(), ArgAction::Append) {
                format!("[{}]", file.toml)
            } else {
                file.toml.clone()
            };
            let expect = |sample: &Sample| -> S {
                on_command_line(&[flag.clone(), sample.argument.clone()])
            };
            let (from_file, from_environment, from_command_line) =
                (expect(&file), expect(&environment), expect(&command_line));
            assert_ne!(&from_file, defaults, "{flag}: sample equals the default");
            assert_ne!(from_file, from_environment, "{flag}: samples alike");
            assert_ne!(from_file, from_command_line, "{flag}: samples alike");
            assert_ne!(from_environment, from_command_line, "{flag}: samples alike");
            let given = [flag.as_str(), command_line.argument.as_str()];
            let env = Some(environment.argument.as_str());
            cases.push(case(
                "file over default",
                &[],
                None,
                Some(&toml),
                &from_file,
            ));
            cases.push(case(
                "command line over file",
                &given,
                None,
                Some(&toml),
                &from_command_line,
            ));
            if has_env {
                cases.push(case(
                    "environment over default",
                    &[],
                    env,
                    None,
                    &from_environment,
                ));
                cases.push(case(
                    "environment over file",
                    &[],
                    env,
                    Some(&toml),
                    &from_environment,
                ));
                cases.push(case(
                    "command line over both",
                    &given,
                    env,
                    Some(&toml),
                    &from_command_line,
                ));
            }
        }
        other => panic!("{flag}: action {other:?} is not walked; add it"),
    }
    cases
}

/// Walks every option of the section; returns how many were walked.
fn walk<S: Section>(scratch: &Path) -> usize {
    let defaults: S = on_command_line(&[]);
    assert_eq!(
        resolved::<S>(&[], None, None),
        defaults,
        "[{}] with nothing set",
        S::NAME
    );
    let command = command::<S>();
    for arg in command.get_arguments() {
        let env = arg.get_env().map(|name| name.to_str().expect("UTF-8 name"));
        for case in cases(arg, scratch, &defaults) {
            let environment = env.zip(case.environment.as_deref());
            assert_eq!(
                resolved::<S>(&case.arguments, environment, case.file.as_deref()),
                case.expected,
                "[{}] {} (--{}): {}",
                S::NAME,
                arg.get_id(),
                long(arg),
                case.name
            );
        }
    }
    command.get_arguments().count()
}

#[test]
fn every_option_follows_command_line_then_environment_then_file_then_default() {
    // Variables from the surroundings must not decide a case.
    for command in [
        command::<CaptureSection>(),
        command::<PipelineSection>(),
        command::<NatsSection>(),
        command::<PolicySection>(),
        command::<InventorySection>(),
    ] {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env() {
                // SAFETY: this binary runs this one test; no other thread
                // reads the environment while it is changed.
                unsafe { std::env::remove_var(name) };
            }
        }
    }
    let scratch =
        std::env::temp_dir().join(format!("cipherlens-precedence-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let walked = [
        walk::<CaptureSection>(&scratch),
        walk::<PipelineSection>(&scratch),
        walk::<NatsSection>(&scratch),
        walk::<PolicySection>(&scratch),
        walk::<InventorySection>(&scratch),
    ];
    std::fs::remove_dir_all(&scratch).ok();
    // Counted by hand, so an enumeration that misses options cannot pass;
    // a new option changes its section's count.
    assert_eq!(walked, [35, 5, 14, 2, 1]);
}
