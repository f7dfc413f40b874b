package main

import (
	"io"
	"strings"
	"text/template"

	"github.com/alecthomas/kingpin/v2"
)

// flagGroups sorts flags into the sections --help shows, by the first
// prefix that names them; the rest are "General".
var flagGroups = []struct {
	title    string
	prefixes []string
}{
	{"Configuration", []string{"config."}},
	{"Running once (--once, check)", []string{"once", "output", "filename", "host", "port-forward", "allow-probe-host"}},
	{"Probing", []string{"probe."}},
	{"Kubernetes", []string{"kubeconfig", "context", "namespace", "node-name", "shard", "total-shards"}},
	{"DNS", []string{"dns."}},
	{"Web", []string{"web."}},
	{"Logging", []string{"log."}},
}

type flagGroup struct {
	Title string
	Flags []*kingpin.FlagModel
}

// groupFlags is the template function that lays flags out in flagGroups'
// order, each group in the order the flags were defined.
func groupFlags(flags []*kingpin.FlagModel) []flagGroup {
	groups := make([]flagGroup, len(flagGroups)+1)
	for i, g := range flagGroups {
		groups[i].Title = g.title
	}
	groups[len(flagGroups)].Title = "General"
flags:
	for _, f := range flags {
		for i, g := range flagGroups {
			for _, p := range g.prefixes {
				if f.Name == p || strings.HasPrefix(f.Name, p) && strings.HasSuffix(p, ".") || strings.HasPrefix(f.Name, p+".") {
					groups[i].Flags = append(groups[i].Flags, f)
					continue flags
				}
			}
		}
		groups[len(flagGroups)].Flags = append(groups[len(flagGroups)].Flags, f)
	}
	out := groups[:0]
	for _, g := range groups {
		if len(g.Flags) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// commands is the Commands section of the exporter's --help: check has a
// kingpin application of its own, so kingpin can't list it.
const commands = `Commands:
  (none)           Run the exporter: probe the configured targets and serve
                   /metrics, /targets and /probe. With --once, probe until
                   every answer is in, print them and exit.
  check -f FILE    Run the probes of Kubernetes manifests (their containers'
                   own startup, liveness and readiness probes) from here,
                   against --host or the workloads' pods; answer as --once.
                   probe-exporter check --help for its flags.
  help [check]     Show this help, or check's.
`

// usageTemplate is kingpin's default usage, with the flags in groups and,
// for the exporter itself, its commands.
func usageTemplate(withCommands bool) string {
	cmds := ""
	if withCommands {
		cmds = commands + "\n"
	}
	return `{{define "FormatCommand" -}}
{{if .FlagSummary}} {{.FlagSummary}}{{end -}}
{{range .Args}}{{if not .Hidden}} {{if not .Required}}[{{end}}{{if .PlaceHolder}}{{.PlaceHolder}}{{else}}<{{.Name}}>{{end}}{{if .Value|IsCumulative}}...{{end}}{{if not .Required}}]{{end}}{{end}}{{end -}}
{{end -}}
usage: {{.App.Name}}{{template "FormatCommand" .App}}

{{.App.Help|Wrap 0}}
` + cmds + `{{range groupFlags .Context.Flags}}{{.Title}}:
{{.Flags|FlagsToTwoColumns|FormatTwoColumns}}
{{end -}}
`
}

// withHelp gives app the grouped usage, written to w (standard output:
// help asked for is output, not an error).
func withHelp(app *kingpin.Application, withCommands bool, w io.Writer) {
	app.UsageWriter(w)
	app.UsageFuncs(template.FuncMap{"groupFlags": groupFlags})
	app.UsageTemplate(usageTemplate(withCommands))
}

// helpArgs turns "help" and "help check" into what shows that help:
// kingpin knows no help command without commands of its own.
func helpArgs(args []string) (check bool, out []string, ok bool) {
	if len(args) == 0 || args[0] != "help" {
		return false, args, false
	}
	if len(args) > 1 && args[1] == "check" {
		return true, []string{"--help"}, true
	}
	return false, []string{"--help"}, true
}
