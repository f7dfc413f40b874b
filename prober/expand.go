package prober

import "strings"

// expand is Kubernetes' $(VAR) expansion (third_party/forked/golang/
// expansion), as ExpandContainerCommandOnlyStatic applies it: $(NAME) is
// replaced when NAME is defined and left as written when not; $$ is an
// escaped $; anything else after $ is kept as is.
func expand(in string, vars map[string]string) string {
	if !strings.Contains(in, "$") {
		return in
	}
	var b strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(in); cursor++ {
		if in[cursor] != '$' || cursor+1 >= len(in) {
			continue
		}
		b.WriteString(in[checkpoint:cursor])
		read, isVar, advance := readVariable(in[cursor+1:])
		if isVar {
			if v, ok := vars[read]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + read + ")")
			}
		} else {
			b.WriteString(read)
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	b.WriteString(in[checkpoint:])
	return b.String()
}

// readVariable reads what follows a $: the name and true for "(NAME)", the
// text to emit and false otherwise, and how many bytes it consumed.
func readVariable(in string) (string, bool, int) {
	switch in[0] {
	case '$':
		return "$", false, 1
	case '(':
		for i := 1; i < len(in); i++ {
			if in[i] == ')' {
				return in[1:i], true, i + 1
			}
		}
		return "$(", false, 1
	}
	return "$" + in[:1], false, 1
}
