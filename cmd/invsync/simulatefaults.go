package main

import (
	"context"
	"io"

	"github.com/invsync/invsync/sim"
)

func startSimChildren(ctx context.Context, cfg *sim.Config, dir string, stderr io.Writer) (func(), error) {
	return nil, errNoChildren
}
