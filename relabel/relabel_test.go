package relabel

import (
	"reflect"
	"testing"
)

func str(s string) *string { return &s }

func TestProcess(t *testing.T) {
	t.Parallel()
	base := func() map[string]string {
		return map[string]string{
			"__address__":                      "192.0.2.1:8080",
			"__meta_kubernetes_namespace":      "shop",
			"__meta_kubernetes_pod_label_app":  "web",
			"__meta_kubernetes_pod_label_tier": "front",
		}
	}
	for _, c := range []struct {
		name  string
		cfgs  []Config
		keep  bool
		check map[string]string // labels that must be (value "" = absent)
	}{
		{"keep matching", []Config{{SourceLabels: []string{"__meta_kubernetes_namespace"}, Regex: str("shop|cart"), Action: "keep"}}, true, nil},
		{"keep is anchored", []Config{{SourceLabels: []string{"__meta_kubernetes_namespace"}, Regex: str("sho"), Action: "keep"}}, false, nil},
		{"drop", []Config{{SourceLabels: []string{"__meta_kubernetes_pod_label_app"}, Regex: str("web"), Action: "drop"}}, false, nil},
		{"replace default action and replacement", []Config{{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"}}, true,
			map[string]string{"namespace": "shop"}},
		{"replace with groups and separator", []Config{{SourceLabels: []string{"__meta_kubernetes_namespace", "__meta_kubernetes_pod_label_app"},
			Separator: str("/"), Regex: str("(.*)/(.*)"), Replacement: str("$2.$1"), TargetLabel: "svc"}}, true,
			map[string]string{"svc": "web.shop"}},
		{"replace with empty result deletes", []Config{{SourceLabels: []string{"missing"}, TargetLabel: "__meta_kubernetes_namespace"}}, true,
			map[string]string{"__meta_kubernetes_namespace": ""}},
		{"replace without match changes nothing", []Config{{SourceLabels: []string{"__meta_kubernetes_namespace"}, Regex: str("x"), TargetLabel: "namespace", Replacement: str("y")}}, true,
			map[string]string{"namespace": ""}},
		{"replace __address__", []Config{{SourceLabels: []string{"__address__"}, Regex: str(`(.+):\d+`), Replacement: str("${1}:9090"), TargetLabel: "__address__"}}, true,
			map[string]string{"__address__": "192.0.2.1:9090"}},
		{"labelmap", []Config{{Regex: str("__meta_kubernetes_pod_label_(.+)"), Action: "labelmap"}}, true,
			map[string]string{"app": "web", "tier": "front"}},
		{"labeldrop", []Config{{Regex: str("__meta_kubernetes_pod_label_.*"), Action: "labeldrop"}}, true,
			map[string]string{"__meta_kubernetes_pod_label_app": "", "__meta_kubernetes_namespace": "shop"}},
		{"labelkeep", []Config{{Regex: str("__address__|__meta_kubernetes_namespace"), Action: "labelkeep"}}, true,
			map[string]string{"__meta_kubernetes_pod_label_app": "", "__meta_kubernetes_namespace": "shop"}},
		{"lowercase and uppercase", []Config{
			{SourceLabels: []string{"__meta_kubernetes_pod_label_app"}, TargetLabel: "up", Action: "uppercase"},
			{SourceLabels: []string{"up"}, TargetLabel: "low", Action: "lowercase"}}, true,
			map[string]string{"up": "WEB", "low": "web"}},
		{"keepequal", []Config{{SourceLabels: []string{"__meta_kubernetes_pod_label_app"}, TargetLabel: "__meta_kubernetes_pod_label_tier", Action: "keepequal"}}, false, nil},
		{"dropequal", []Config{{SourceLabels: []string{"__meta_kubernetes_pod_label_app"}, TargetLabel: "__meta_kubernetes_pod_label_tier", Action: "dropequal"}}, true, nil},
		{"missing source is empty", []Config{{SourceLabels: []string{"nope"}, Regex: str(""), Action: "keep"}}, true, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rules []*Rule
			for i := range c.cfgs {
				r, err := c.cfgs[i].Compile()
				if err != nil {
					t.Fatal(err)
				}
				rules = append(rules, r)
			}
			ls := base()
			if got := Process(ls, rules); got != c.keep {
				t.Fatalf("keep = %v, want %v (%v)", got, c.keep, ls)
			}
			for k, want := range c.check {
				if got, ok := ls[k]; (want == "" && ok) || got != want {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, want)
				}
			}
		})
	}
}

// TestHashMod pins hashmod to Prometheus' values, so shards computed here
// and in a Prometheus config agree.
func TestHashMod(t *testing.T) {
	t.Parallel()
	r, err := (&Config{SourceLabels: []string{"a"}, Modulus: 1000, TargetLabel: "h", Action: "hashmod"}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	ls := map[string]string{"a": "foo"}
	Process(ls, []*Rule{r})
	// md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; last 8 bytes
	// 0xedef654fccc4a4d8 % 1000 = 696 (checked with Python's hashlib).
	if !reflect.DeepEqual(ls, map[string]string{"a": "foo", "h": "696"}) {
		t.Errorf("got %v", ls)
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{Action: "explode"}, "action"},
		{Config{Regex: str("("), Action: "keep"}, "regex"},
		{Config{SourceLabels: []string{"bad-name"}, Action: "keep"}, "source_labels"},
		{Config{Action: "replace"}, "target_label"},
		{Config{Action: "replace", TargetLabel: "bad-name"}, "target_label"},
		{Config{Action: "hashmod", TargetLabel: "h"}, "modulus"},
		{Config{Action: "labeldrop", TargetLabel: "x"}, "action"},
		{Config{Action: "keepequal", TargetLabel: "x", Regex: str("a")}, "action"},
	} {
		_, err := c.cfg.Compile()
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != c.field {
			t.Errorf("%+v: error %v, want one about %s", c.cfg, err, c.field)
		}
	}
	if _, err := (&Config{Action: "Replace", TargetLabel: "ok"}).Compile(); err != nil {
		t.Errorf("actions are case-insensitive in Prometheus: %v", err)
	}
}

// FuzzRelabel: any rule compiles or says why, and a compiled rule never
// panics, keeps or drops the same label set the same way every time, and
// sets no label with an invalid name but through labelmap (whose results
// Prometheus, and targets, check afterwards). The seeds run with go test.
func FuzzRelabel(f *testing.F) {
	for _, a := range actions {
		f.Add(a, "(.*)", "$1", "out", "value", "__meta_x")
	}
	f.Add("replace", "(a)(b)?", "${2}x$1", "t_$1", "ab", "src")
	f.Add("labelmap", "__meta_(.+)", "bad-$1", "", "v", "__meta_x")
	f.Add("hashmod", "", "", "shard", "10.0.0.1:80", "__address__")
	f.Fuzz(func(t *testing.T, action, regex, replacement, target, value, source string) {
		c := Config{Action: action, Regex: &regex, Replacement: &replacement, TargetLabel: target, Modulus: 7}
		if labelNameRE.MatchString(source) {
			c.SourceLabels = []string{source}
		}
		if action == KeepEqual || action == DropEqual {
			c.Regex, c.Replacement, c.Modulus = nil, nil, 0
		}
		if action == LabelDrop || action == LabelKeep {
			c.SourceLabels, c.TargetLabel, c.Replacement, c.Modulus = nil, "", nil, 0
		}
		r, err := c.Compile()
		if err != nil {
			return
		}
		in := map[string]string{"__address__": "10.0.0.1:80", source: value, "job": "x"}
		first := map[string]string{}
		for k, v := range in {
			first[k] = v
		}
		kept := Process(first, []*Rule{r})
		again := map[string]string{}
		for k, v := range in {
			again[k] = v
		}
		if Process(again, []*Rule{r}) != kept || !reflect.DeepEqual(first, again) {
			t.Fatalf("not deterministic: %v vs %v", first, again)
		}
		if r.action == LabelMap {
			return
		}
		for k := range first {
			if _, was := in[k]; !was && !labelNameRE.MatchString(k) {
				t.Fatalf("%s set the invalid label name %q", r.action, k)
			}
		}
	})
}
