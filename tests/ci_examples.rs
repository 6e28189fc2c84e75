//! The ready-to-use pipelines in `examples/ci/` stay runnable: both parse as YAML, and
//! every `mailtrap-access ...` command in their shell steps is accepted by the CLI's own
//! argument parser (after the shell syntax around it is taken away).

use mailtrap_access::parse_command_line;

const GITHUB: &str = "examples/ci/github-actions.yml";
const GITLAB: &str = "examples/ci/gitlab-ci.yml";

/// Every string under one of `keys` (shell steps), anywhere in the document.
fn shell_steps(value: &serde_json::Value, keys: &[&str], found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                let is_shell = keys.contains(&key.as_str());
                if is_shell {
                    collect_strings(item, found);
                } else {
                    shell_steps(item, keys, found);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                shell_steps(item, keys, found);
            }
        }
        _ => {}
    }
}

fn collect_strings(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => found.push(text.clone()),
        serde_json::Value::Array(items) => {
            for item in items {
                collect_strings(item, found);
            }
        }
        _ => {}
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    /// `;`, `&&`, `||`, `|`, `&`, a newline: the end of a simple command.
    Separator,
    /// `>`, `>>`, `<`, `2>`, `>&`: the next word is its target, not an argument.
    Redirect,
}

/// A small shell lexer: quotes, backslashes, operators and redirections; every expansion
/// (`$VAR`, `${VAR}`, `$(...)`, and GitHub's `${{ ... }}`) becomes the word `VALUE`.
fn lex(script: &str) -> Vec<Token> {
    let chars: Vec<char> = script.chars().collect();
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    let finish = |word: &mut String, in_word: &mut bool, tokens: &mut Vec<Token>| {
        if *in_word {
            tokens.push(Token::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '\\' => {
                if let Some(&next) = chars.get(i + 1) {
                    word.push(next);
                    in_word = true;
                }
                i += 2;
            }
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '$' {
                        i = skip_expansion(&chars, i);
                        word.push_str("VALUE");
                    } else {
                        if chars[i] == '\\' {
                            i += 1;
                        }
                        if let Some(&c) = chars.get(i) {
                            word.push(c);
                        }
                        i += 1;
                    }
                }
                i += 1;
            }
            '$' => {
                i = skip_expansion(&chars, i);
                word.push_str("VALUE");
                in_word = true;
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            ' ' | '\t' => {
                finish(&mut word, &mut in_word, &mut tokens);
                i += 1;
            }
            '\n' | ';' | '|' | '&' => {
                finish(&mut word, &mut in_word, &mut tokens);
                tokens.push(Token::Separator);
                i += 1;
                while i < chars.len() && matches!(chars[i], '|' | '&') {
                    i += 1;
                }
            }
            '>' | '<' => {
                // A file descriptor number before it belongs to the redirection.
                if in_word && word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                finish(&mut word, &mut in_word, &mut tokens);
                tokens.push(Token::Redirect);
                i += 1;
                while i < chars.len() && matches!(chars[i], '>' | '&') {
                    i += 1;
                }
            }
            c => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    finish(&mut word, &mut in_word, &mut tokens);
    tokens
}

/// The index after the expansion starting at `chars[at] == '$'`.
fn skip_expansion(chars: &[char], at: usize) -> usize {
    let close = match chars.get(at + 1) {
        Some('{') if chars.get(at + 2) == Some(&'{') => "}}",
        Some('{') => "}",
        Some('(') => ")",
        _ => {
            let mut i = at + 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            if i == at + 1 && matches!(chars.get(i), Some('?' | '$' | '!' | '#' | '@')) {
                i += 1;
            }
            return i;
        }
    };
    let rest: String = chars[at..].iter().collect();
    match rest.find(close) {
        Some(end) => at + rest[..end].chars().count() + close.chars().count(),
        None => chars.len(),
    }
}

/// The argument lists of every simple command whose command word is `mailtrap-access`,
/// with leading `NAME=value` assignments and shell keywords skipped and redirections
/// removed.
fn mailtrap_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut tokens = lex(script).into_iter().peekable();
    let mut flush = |current: &mut Vec<String>| {
        let words: Vec<String> = current
            .drain(..)
            .skip_while(|word| {
                word.contains('=') && !word.starts_with('-')
                    || ["if", "then", "else", "elif", "do", "!", "exec", "time"]
                        .contains(&word.as_str())
            })
            .collect();
        if words.first().is_some_and(|word| word == "mailtrap-access") {
            commands.push(words);
        }
    };
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(word) => current.push(word),
            Token::Separator => flush(&mut current),
            Token::Redirect => {
                if matches!(tokens.peek(), Some(Token::Word(_))) {
                    tokens.next();
                }
            }
        }
    }
    flush(&mut current);
    commands
}

fn commands_in(path: &str, keys: &[&str]) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let document: serde_json::Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|err| panic!("{path} is not YAML: {err}"));
    let mut steps = Vec::new();
    shell_steps(&document, keys, &mut steps);
    assert!(!steps.is_empty(), "{path}: no shell steps found");
    steps
        .iter()
        .flat_map(|step| mailtrap_commands(step))
        .collect()
}

fn assert_all_parse(path: &str, commands: &[Vec<String>]) {
    for words in commands {
        if let Err(err) = parse_command_line(words) {
            panic!(
                "{path}: `{}` is refused by the CLI:\n{err}",
                words.join(" ")
            );
        }
    }
}

/// What the three jobs must run, so that the check cannot pass on an empty file.
fn assert_the_three_jobs(path: &str, commands: &[Vec<String>]) {
    let lines: Vec<String> = commands.iter().map(|words| words.join(" ")).collect();
    let has = |needles: &[&str]| {
        lines
            .iter()
            .any(|line| needles.iter().all(|needle| line.contains(needle)))
    };
    assert!(
        has(&[
            "mailtrap-access plan",
            "--format markdown",
            "--detailed-exitcode"
        ]),
        "{path}: no pull-request plan in {lines:#?}"
    );
    assert!(
        has(&["mailtrap-access apply", "--auto-approve"]),
        "{path}: no apply in {lines:#?}"
    );
    assert!(
        has(&[
            "mailtrap-access plan",
            "--detailed-exitcode",
            "--out drift-report.json"
        ]),
        "{path}: no drift check with a JSON report in {lines:#?}"
    );
}

#[test]
fn github_actions_commands_are_accepted_by_the_cli() {
    let commands = commands_in(GITHUB, &["run"]);
    assert_the_three_jobs(GITHUB, &commands);
    assert_all_parse(GITHUB, &commands);
}

#[test]
fn gitlab_ci_commands_are_accepted_by_the_cli() {
    let commands = commands_in(GITLAB, &["script", "before_script", "after_script"]);
    assert_the_three_jobs(GITLAB, &commands);
    assert_all_parse(GITLAB, &commands);
}

#[test]
fn the_extraction_strips_shell_syntax_and_finds_bad_commands() {
    let script = "code=0\nFOO=1 mailtrap-access plan -f \"$DESIRED_FILE\" --format markdown --detailed-exitcode > plan.md || code=$?\n\
                  command -v mailtrap-access || cargo install --git \"$X\" mailtrap-access\n\
                  echo mailtrap-access plan; mailtrap-access apply \\\n  --auto-approve ${{ env.PLAN }} 2>&1 | tee log\n\
                  mailtrap-access plan --formt json # a typo\n";
    let commands: Vec<String> = mailtrap_commands(script)
        .iter()
        .map(|words| words.join(" "))
        .collect();
    assert_eq!(
        commands,
        [
            "mailtrap-access plan -f VALUE --format markdown --detailed-exitcode",
            "mailtrap-access apply --auto-approve VALUE",
            "mailtrap-access plan --formt json",
        ]
    );
    let parsed: Vec<bool> = mailtrap_commands(script)
        .iter()
        .map(|words| parse_command_line(words).is_ok())
        .collect();
    assert_eq!(parsed, [true, true, false]);
}
