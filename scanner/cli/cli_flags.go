package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/invsync/invsync/scanner"
)

// cliFlag is one command-line flag, with the environment variable that
// supplies it when the flag is absent.
type cliFlag struct {
	name, env, def, help string
	isBool               bool
}

// cliArgs is a parsed command line: values by flag name, which were given
// as flags, the positional arguments, and every problem found.
type cliArgs struct {
	vals     map[string]string
	fromFlag map[string]bool
	args     []string
	help     bool
	problems []string
}

// parseCLI reads flags (--name value, --name=value, -name; booleans bare
// or =true/false) interleaved with positional arguments ("--" ends flags).
// Unlike package flag it goes on after a bad flag, so every problem is
// reported at once.
func parseCLI(args []string, specs []cliFlag, getenv func(string) string) cliArgs {
	a := cliArgs{vals: map[string]string{}, fromFlag: map[string]bool{}}
	byName := map[string]cliFlag{}
	for _, f := range specs {
		byName[f.name] = f
		a.vals[f.name] = f.def
		if f.env != "" {
			if v := getenv(f.env); v != "" {
				a.vals[f.name] = v
			}
		}
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			a.args = append(a.args, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			a.args = append(a.args, arg)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name == "help" || name == "h" {
			a.help = true
			continue
		}
		f, ok := byName[name]
		if !ok {
			a.problems = append(a.problems, fmt.Sprintf("unknown flag %s", arg))
			continue
		}
		switch {
		case f.isBool && !hasVal:
			val = "true"
		case f.isBool && val != "true" && val != "false":
			a.problems = append(a.problems, fmt.Sprintf("--%s takes true or false, got %q", name, val))
			continue
		case !hasVal:
			if i+1 >= len(args) {
				a.problems = append(a.problems, fmt.Sprintf("--%s needs a value", name))
				continue
			}
			i++
			val = args[i]
		}
		a.vals[name], a.fromFlag[name] = val, true
	}
	return a
}

// require adds a problem for each named flag left empty.
func (a *cliArgs) require(specs []cliFlag, names ...string) {
	for _, n := range names {
		if a.vals[n] != "" {
			continue
		}
		for _, f := range specs {
			if f.name == n {
				if f.env != "" {
					a.problems = append(a.problems, fmt.Sprintf("--%s (or %s) is required", n, f.env))
				} else {
					a.problems = append(a.problems, fmt.Sprintf("--%s is required", n))
				}
			}
		}
	}
}

// printFlags writes the flag table of a usage text.
func printFlags(w io.Writer, specs []cliFlag) {
	for _, f := range specs {
		head := "  --" + f.name
		if !f.isBool {
			head += " VALUE"
		}
		fmt.Fprintln(w, head)
		help := f.help
		if f.env != "" {
			help += " [env " + f.env + "]"
		}
		if f.def != "" && !f.isBool {
			help += " (default " + f.def + ")"
		}
		fmt.Fprintln(w, "        "+help)
	}
}

// reportProblems prints every problem and returns the usage-error exit code.
func reportProblems(w io.Writer, cmd string, problems []string) int {
	fmt.Fprintf(w, "%s: %d %s:\n", cmd, len(problems), plural(len(problems), "problem", "problems"))
	for _, p := range problems {
		fmt.Fprintln(w, "  - "+p)
	}
	fmt.Fprintf(w, "run `%s --help` for usage\n", cmd)
	return scanner.ExitUsage
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
