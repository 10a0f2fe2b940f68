package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "estab",
		Short: "roll the ESTABLISHED,RELATED allow rule out to a fleet over SSH",
		Long: `estab rolls the stateful allow rule
    iptables  -I INPUT 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    ip6tables -I INPUT 1 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
out over SSH to every host of an Ansible inventory, the careful way, in parallel.
Every host ends confirmed and saved, or exactly as before.`,
		Version:       version(),
		SilenceErrors: true, // run reports errors, with the usage where it helps
		SilenceUsage:  true,
	}
	// No -v: Ansible users read it as verbose.
	root.Flags().Bool("version", false, "print estab's version and commit")
	root.SetVersionTemplate("{{.Name}} {{.Version}}\n")
	// Before the completion command, which keeps the writer it finds.
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newApplyCmd(), newPingCmd(), newAuditCmd(), newInventoryCmd(), newLabCmd())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	strictHelp(root)
	walk(root, func(c *cobra.Command) {
		plainBools(c)
		// A command that only groups others (estab, lab, completion):
		// without a command it is a usage error, not help and exit 0.
		if c.HasSubCommands() && !c.Runnable() {
			c.RunE = needSubcommand
		}
	})
	return root
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// plainBool hides pflag's IsBoolFlag, so that help lists a switch as
// "--check" instead of "--check[=true|false]". "--check" alone still
// works: pflag registered the flag with NoOptDefVal "true".
type plainBool struct{ pflag.Value }

func plainBools(c *cobra.Command) {
	c.InitDefaultHelpFlag()
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Value.Type() == "bool" {
			f.Value = plainBool{f.Value}
		}
	})
}

// strictHelp makes "estab help NOSUCH" a usage error (exit 2) instead of
// cobra's message with exit 0.
func strictHelp(root *cobra.Command) {
	for _, h := range root.Commands() {
		if h.Name() != "help" || h.Run == nil {
			continue
		}
		show := h.Run
		h.Run = nil
		h.RunE = func(c *cobra.Command, args []string) error {
			if found, _, err := root.Find(args); err != nil || found == nil {
				fmt.Fprintf(c.ErrOrStderr(), "estab: unknown help topic %q\n%s", strings.Join(args, " "), root.UsageString())
				return exitCode(exitUsage)
			}
			show(c, args)
			return nil
		}
	}
}
