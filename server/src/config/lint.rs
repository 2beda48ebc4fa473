//! Warnings about patterns a client can satisfy on rules that ask for little or no login.
//!
//! `resources` patterns see the canonical path followed by `?` and the raw query, and the client
//! chooses the query. On a `bypass` or `one_factor` rule, a pattern that is not anchored at the
//! start of the path, or that can match across the `?`, can therefore be met by any URL with a
//! suitable query, e.g. `\.css$` by `/admin/export?format=x.css`. The checks below read the
//! pattern's syntax tree; they are conservative and can warn about a pattern that is safe.

use regex_syntax::hir::{Class, Hir, HirKind, Look};

use crate::config::access_control::{Policy, QueryOperator, Rule};
use crate::config::read::Reader;

/// Reason the query string can satisfy a `resources` pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceProblem {
    /// The pattern does not start with `^`, so it can match anywhere, the query included.
    NotAnchored,
    /// The pattern can match a `?` and the text after it.
    CrossesQuery,
}

/// Adds a warning for each client-satisfiable pattern on a `bypass` or `one_factor` rule.
pub(crate) fn lint_rule_patterns(reader: &mut Reader, rule_path: &str, rule: &Rule) {
    if !matches!(rule.policy, Policy::Bypass | Policy::OneFactor) {
        return;
    }
    let policy = rule.policy.as_str();

    for (index, pattern) in rule.resources.iter().enumerate() {
        let Some(problem) = resource_problem(pattern) else {
            continue;
        };
        let reason = match problem {
            ResourceProblem::NotAnchored => {
                "is not anchored to the start of the path (it does not begin with '^/')"
            }
            ResourceProblem::CrossesQuery => {
                "can match the '?' that starts the query string and the text after it"
            }
        };
        let advice = match suggest_resource(pattern) {
            Some(suggestion) => format!("anchor it to the path, e.g. '{suggestion}'"),
            None => "anchor it with '^/' and exclude '?' from what it can match, e.g. use [^?]* instead of .*".to_owned(),
        };
        reader.warn(
            &format!("{rule_path}.resources[{index}]"),
            format!(
                "pattern '{pattern}' {reason}, so on this {policy} rule a client can satisfy it through the query string; {advice}; prefer the query criterion for query conditions"
            ),
        );
    }

    for (index, pattern) in rule.domain_regex.iter().enumerate() {
        if !is_fully_anchored(pattern) {
            reader.warn(
                &format!("{rule_path}.domain_regex[{index}]"),
                format!(
                    "pattern '{pattern}' is not anchored at both ends, so on this {policy} rule it also matches longer host names; anchor it, e.g. '{}'",
                    suggest_full_anchor(pattern)
                ),
            );
        }
    }

    for (alternative, conditions) in rule.query.iter().enumerate() {
        for (index, condition) in conditions.iter().enumerate() {
            if condition.operator != QueryOperator::Pattern || is_fully_anchored(&condition.value) {
                continue;
            }
            reader.warn(
                &format!("{rule_path}.query[{alternative}][{index}].value"),
                format!(
                    "pattern '{}' is not anchored at both ends, so on this {policy} rule any value that merely contains a match satisfies it, and the client chooses the value; anchor it, e.g. '{}'",
                    condition.value,
                    suggest_full_anchor(&condition.value)
                ),
            );
        }
    }
}

/// Returns why the query string can satisfy `pattern`, or `None` when matching depends on the
/// path alone.
pub(crate) fn resource_problem(pattern: &str) -> Option<ResourceProblem> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    branch_problem(&hir)
}

fn branch_problem(hir: &Hir) -> Option<ResourceProblem> {
    if let HirKind::Alternation(branches) = hir.kind() {
        return branches.iter().find_map(branch_problem);
    }
    let items: Vec<&Hir> = match hir.kind() {
        HirKind::Concat(items) => items.iter().collect(),
        _ => vec![hir],
    };
    let Some((first, mut body)) = items.split_first() else {
        return Some(ResourceProblem::NotAnchored);
    };
    if !matches!(first.kind(), HirKind::Look(Look::Start)) {
        return Some(ResourceProblem::NotAnchored);
    }
    while let Some((last, rest)) = body.split_last() {
        if !matches!(last.kind(), HirKind::Look(Look::End)) {
            break;
        }
        body = rest;
    }
    // A final element that is a harmless tail, such as `(\?.*)?` or `.*`, cannot make the
    // query decide a match. See `is_harmless_tail`.
    if let Some((last, rest)) = body.split_last() {
        if is_harmless_tail(last) {
            body = rest;
        }
    }
    if body.iter().any(|item| can_match_question_mark(item)) {
        return Some(ResourceProblem::CrossesQuery);
    }
    None
}

/// Checks whether `hir` is a tail after which adding a query can only make a match fail:
/// `C*` for any class `C`, or an optional group `(X C*)?` / `(X)?` whose leading literal `X`
/// contains `?` at most as its first character.
fn is_harmless_tail(hir: &Hir) -> bool {
    let hir = strip_captures(hir);
    let HirKind::Repetition(repetition) = hir.kind() else {
        return false;
    };
    if repetition.min != 0 {
        return false;
    }
    let sub = strip_captures(&repetition.sub);
    if repetition.max.is_none() && matches!(sub.kind(), HirKind::Class(_)) {
        return true;
    }
    if repetition.max != Some(1) {
        return false;
    }
    let parts: Vec<&Hir> = match sub.kind() {
        HirKind::Concat(items) => items.iter().collect(),
        _ => vec![sub],
    };
    let leading_is_safe = match parts.first().map(|h| h.kind()) {
        Some(HirKind::Literal(literal)) => !literal.0.iter().skip(1).any(|&b| b == b'?'),
        Some(HirKind::Class(_)) => true,
        _ => false,
    };
    let rest_is_star = match parts.get(1..) {
        None | Some([]) => true,
        Some([only]) => matches!(
            only.kind(),
            HirKind::Repetition(r) if r.min == 0 && r.max.is_none() && matches!(r.sub.kind(), HirKind::Class(_))
        ),
        Some(_) => false,
    };
    leading_is_safe && rest_is_star
}

fn strip_captures(hir: &Hir) -> &Hir {
    match hir.kind() {
        HirKind::Capture(capture) => strip_captures(&capture.sub),
        _ => hir,
    }
}

fn can_match_question_mark(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(literal) => literal.0.contains(&b'?'),
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .any(|range| range.start() <= '?' && '?' <= range.end()),
        HirKind::Class(Class::Bytes(class)) => class
            .ranges()
            .iter()
            .any(|range| range.start() <= b'?' && b'?' <= range.end()),
        HirKind::Repetition(repetition) => can_match_question_mark(&repetition.sub),
        HirKind::Capture(capture) => can_match_question_mark(&capture.sub),
        HirKind::Concat(items) | HirKind::Alternation(items) => {
            items.iter().any(can_match_question_mark)
        }
    }
}

/// Checks whether every branch of `pattern` starts with `^` and ends with `$`.
fn is_fully_anchored(pattern: &str) -> bool {
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else {
        return false;
    };
    let branches: Vec<&Hir> = match hir.kind() {
        HirKind::Alternation(branches) => branches.iter().collect(),
        _ => vec![&hir],
    };
    branches.iter().all(|branch| {
        let items: Vec<&Hir> = match branch.kind() {
            HirKind::Concat(items) => items.iter().collect(),
            _ => vec![*branch],
        };
        let starts = items
            .first()
            .is_some_and(|h| matches!(h.kind(), HirKind::Look(Look::Start)));
        let ends = items
            .last()
            .is_some_and(|h| matches!(h.kind(), HirKind::Look(Look::End)));
        starts && ends
    })
}

fn suggest_full_anchor(pattern: &str) -> String {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let body = strip_unescaped_dollar(body);
    if body.contains('|') {
        format!("^(?:{body})$")
    } else {
        format!("^{body}$")
    }
}

/// Rewrites a `resources` pattern so that it is anchored and cannot cross the `?`; returns
/// `None` when the rewrite still does not pass the check.
pub(crate) fn suggest_resource(pattern: &str) -> Option<String> {
    let anchored = pattern.starts_with('^');
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let stripped = strip_unescaped_dollar(body);
    let ends = stripped.len() != body.len();
    let mut suggestion = String::from("^");
    if !anchored {
        suggestion.push_str("[^?]*");
    }
    suggestion.push_str(&exclude_question_mark(stripped));
    if ends {
        suggestion.push_str("(\\?.*)?$");
    }
    let compiles = regex::Regex::new(&suggestion).is_ok();
    (compiles && resource_problem(&suggestion).is_none()).then_some(suggestion)
}

/// Removes a final `$` unless it is escaped.
fn strip_unescaped_dollar(pattern: &str) -> &str {
    let Some(body) = pattern.strip_suffix('$') else {
        return pattern;
    };
    let backslashes = body.bytes().rev().take_while(|&b| b == b'\\').count();
    if backslashes % 2 == 0 {
        body
    } else {
        pattern
    }
}

/// Replaces `.` outside classes with `[^?]` and adds `?` to negated classes.
fn exclude_question_mark(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push_str("^?");
                }
                // A `]` right after the opening bracket is a literal member of the class.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push(']');
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '.' if !in_class => out.push_str("[^?]"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_problem_table() {
        let cases = [
            (r"\.(css|js|png)$", Some(ResourceProblem::NotAnchored)),
            (r"^/static/.*\.css$", Some(ResourceProblem::CrossesQuery)),
            (r"^/api([/?].*)?$", None),
            (r"^[^?]*\.(css|js|png)(\?.*)?$", None),
            (r"^/static/", None),
            (r"^/static/.*", None),
            (r"^/public$", None),
            (r"^/a|/b", Some(ResourceProblem::NotAnchored)),
            (r"^/a|^/b.*\?x", Some(ResourceProblem::CrossesQuery)),
            (r"^/api/.+$", Some(ResourceProblem::CrossesQuery)),
            (r"^/x(b\?c.*)?$", Some(ResourceProblem::CrossesQuery)),
        ];
        for (pattern, expected) in cases {
            assert_eq!(resource_problem(pattern), expected, "pattern {pattern}");
        }
    }

    #[test]
    fn suggestion_for_extension_pattern() {
        assert_eq!(
            suggest_resource(r"\.(css|js|png)$").as_deref(),
            Some(r"^[^?]*\.(css|js|png)(\?.*)?$")
        );
    }

    #[test]
    fn suggestion_replaces_wildcards() {
        assert_eq!(
            suggest_resource(r"^/static/.*\.css$").as_deref(),
            Some(r"^/static/[^?]*\.css(\?.*)?$")
        );
        assert_eq!(
            suggest_resource(r"^/s/[^/]+\.js$").as_deref(),
            Some(r"^/s/[^?/]+\.js(\?.*)?$")
        );
    }

    #[test]
    fn full_anchor_check() {
        assert!(is_fully_anchored(r"^(?P<User>\w+)\.home\.example\.com$"));
        assert!(!is_fully_anchored(r"home\.example\.com"));
        assert!(!is_fully_anchored(r"^a$|b"));
        assert_eq!(
            suggest_full_anchor(r"home\.example\.com"),
            r"^home\.example\.com$"
        );
    }
}
