package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/invsync/invsync/sim"
)

// runSimulate runs `invsync simulate`. Exit codes: 0 completed, 1 the run
// failed (what it had measured is printed), 2 bad usage.
func runSimulate(args []string, stdout, stderr io.Writer) int {
	cmd, err := parseSimulate(args, os.Getenv, stdout)
	if err != nil {
		return usageFailed("simulate", err, stderr)
	}
	ctx, stop := untilSignal()
	defer stop()
	res, err := sim.Simulate(ctx, cmd.Config, cmd.Setup, stderr)
	if res.Seed != 0 || res.Warehouses != 0 {
		if werr := sim.WriteTable(stdout, res); werr != nil {
			fmt.Fprintln(stderr, "invsync simulate: writing the table:", werr)
		}
		if cmd.Report != "" {
			if rerr := sim.WriteReport(cmd.Report, res, "invsync simulate "+strings.Join(args, " ")); rerr != nil {
				fmt.Fprintln(stderr, "invsync simulate: writing the report:", rerr)
				if err == nil {
					err = rerr
				}
			} else {
				fmt.Fprintf(stderr, "invsync simulate: report written to %s\n", cmd.Report)
			}
		}
		if cmd.JSON {
			line, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(line))
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "invsync simulate:", oneLine(err))
		return 1
	}
	return 0
}

// parseSimulate parses args (after "simulate") with environment
// fallbacks, reporting every problem at once.
func parseSimulate(args []string, getenv func(string) string, usageOut io.Writer) (sim.Command, error) {
	return parseCommand("simulate", sim.Flags, args, getenv, usageOut, sim.ConfigureCommand)
}
