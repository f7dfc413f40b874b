// Package relabel applies Prometheus relabel_configs to discovered label
// sets, with Prometheus' semantics: the same actions, defaults, anchoring
// and hashmod, so users' relabeling knowledge carries over unchanged.
package relabel

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Config is one relabel_configs entry, with Prometheus' field names.
type Config struct {
	SourceLabels []string `yaml:"source_labels"`
	Separator    *string  `yaml:"separator"`
	Regex        *string  `yaml:"regex"`
	Modulus      uint64   `yaml:"modulus"`
	TargetLabel  string   `yaml:"target_label"`
	Replacement  *string  `yaml:"replacement"`
	Action       string   `yaml:"action"`
}

// Actions, as Prometheus names them.
const (
	Replace   = "replace"
	Keep      = "keep"
	Drop      = "drop"
	KeepEqual = "keepequal"
	DropEqual = "dropequal"
	HashMod   = "hashmod"
	LabelMap  = "labelmap"
	LabelDrop = "labeldrop"
	LabelKeep = "labelkeep"
	Lowercase = "lowercase"
	Uppercase = "uppercase"
)

var actions = []string{Replace, Keep, Drop, KeepEqual, DropEqual, HashMod, LabelMap, LabelDrop, LabelKeep, Lowercase, Uppercase}

// Rule is a compiled Config.
type Rule struct {
	sourceLabels []string
	separator    string
	regex        *regexp.Regexp
	modulus      uint64
	targetLabel  string
	replacement  string
	action       string
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// FieldError names the field of a Config that is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Compile applies Prometheus' defaults and checks c as Prometheus does.
func (c *Config) Compile() (*Rule, error) {
	r := &Rule{
		sourceLabels: c.SourceLabels,
		separator:    ";",
		modulus:      c.Modulus,
		targetLabel:  c.TargetLabel,
		replacement:  "$1",
		action:       strings.ToLower(c.Action),
	}
	if c.Separator != nil {
		r.separator = *c.Separator
	}
	if c.Replacement != nil {
		r.replacement = *c.Replacement
	}
	if r.action == "" {
		r.action = Replace
	}
	known := false
	for _, a := range actions {
		known = known || a == r.action
	}
	if !known {
		return nil, &FieldError{"action", fmt.Sprintf("unknown relabel action %q (one of %s)", c.Action, strings.Join(actions, ", "))}
	}
	expr := "(.*)"
	if c.Regex != nil {
		expr = *c.Regex
	}
	if _, err := regexp.Compile(expr); err != nil {
		return nil, &FieldError{"regex", fmt.Sprintf("invalid regular expression %q: %v", expr, err)}
	}
	// Anchored at both ends, as Prometheus does.
	re := regexp.MustCompile("^(?s:" + expr + ")$")
	r.regex = re
	for _, l := range c.SourceLabels {
		if !labelNameRE.MatchString(l) {
			return nil, &FieldError{"source_labels", fmt.Sprintf("%q is not a valid label name", l)}
		}
	}
	switch r.action {
	case Replace, HashMod, Lowercase, Uppercase, KeepEqual, DropEqual:
		if r.targetLabel == "" {
			return nil, &FieldError{"target_label", "required for action " + r.action}
		}
	}
	switch r.action {
	case Replace:
		// A target label may use $1-style references; check the rest.
		if !strings.Contains(r.targetLabel, "$") && !labelNameRE.MatchString(r.targetLabel) {
			return nil, &FieldError{"target_label", fmt.Sprintf("%q is not a valid label name", r.targetLabel)}
		}
	case HashMod, Lowercase, Uppercase, KeepEqual, DropEqual:
		if !labelNameRE.MatchString(r.targetLabel) {
			return nil, &FieldError{"target_label", fmt.Sprintf("%q is not a valid label name", r.targetLabel)}
		}
	}
	if r.action == HashMod && r.modulus == 0 {
		return nil, &FieldError{"modulus", "required (> 0) for action hashmod"}
	}
	if (r.action == KeepEqual || r.action == DropEqual) && (c.Regex != nil || c.Replacement != nil || c.Modulus != 0 || c.Separator != nil) {
		return nil, &FieldError{"action", r.action + " takes only source_labels and target_label"}
	}
	if (r.action == LabelDrop || r.action == LabelKeep) && (len(c.SourceLabels) > 0 || c.TargetLabel != "" || c.Modulus != 0 || c.Replacement != nil || c.Separator != nil) {
		return nil, &FieldError{"action", r.action + " takes only regex"}
	}
	return r, nil
}

// Process applies rules in order to ls, which it may change. It returns
// false when a rule drops the target.
func Process(ls map[string]string, rules []*Rule) bool {
	for _, r := range rules {
		if !r.apply(ls) {
			return false
		}
	}
	return true
}

func (r *Rule) apply(ls map[string]string) bool {
	vals := make([]string, len(r.sourceLabels))
	for i, name := range r.sourceLabels {
		vals[i] = ls[name]
	}
	val := strings.Join(vals, r.separator)

	switch r.action {
	case Drop:
		return !r.regex.MatchString(val)
	case Keep:
		return r.regex.MatchString(val)
	case KeepEqual:
		return ls[r.targetLabel] == val
	case DropEqual:
		return ls[r.targetLabel] != val
	case Replace:
		idx := r.regex.FindStringSubmatchIndex(val)
		if idx == nil {
			return true
		}
		target := string(r.regex.ExpandString(nil, r.targetLabel, val, idx))
		if !labelNameRE.MatchString(target) {
			return true
		}
		res := string(r.regex.ExpandString(nil, r.replacement, val, idx))
		if res == "" {
			delete(ls, target)
		} else {
			ls[target] = res
		}
	case Lowercase:
		ls[r.targetLabel] = strings.ToLower(val)
	case Uppercase:
		ls[r.targetLabel] = strings.ToUpper(val)
	case HashMod:
		sum := md5.Sum([]byte(val))
		// Prometheus folds the digest into a uint64 so that only its last
		// eight bytes count.
		ls[r.targetLabel] = fmt.Sprint(binary.BigEndian.Uint64(sum[8:]) % r.modulus)
	case LabelMap:
		names := sortedNames(ls)
		for _, name := range names {
			if idx := r.regex.FindStringSubmatchIndex(name); idx != nil {
				res := string(r.regex.ExpandString(nil, r.replacement, name, idx))
				ls[res] = ls[name]
			}
		}
	case LabelDrop:
		for _, name := range sortedNames(ls) {
			if r.regex.MatchString(name) {
				delete(ls, name)
			}
		}
	case LabelKeep:
		for _, name := range sortedNames(ls) {
			if !r.regex.MatchString(name) {
				delete(ls, name)
			}
		}
	}
	return true
}

func sortedNames(ls map[string]string) []string {
	names := make([]string, 0, len(ls))
	for n := range ls {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
