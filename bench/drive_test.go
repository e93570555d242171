package bench

import (
	"strings"
	"testing"
)

func TestDriveOptionsValidateReportsEveryProblem(t *testing.T) {
	err := DriveOptions{Peer: "nope", Direct: true}.Validate(Config{URL: "http://x:1"})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"--peer: \"nope\"", "--peer kstreams needs --brokers", "--direct", "--url needs --brokers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}
	if err := (DriveOptions{Peer: PeerKStreams}).Validate(Config{Brokers: []string{"k:9092"}}); err != nil {
		t.Errorf("kstreams on --brokers: %v", err)
	}
	if err := (DriveOptions{}).Validate(Config{}); err != nil {
		t.Errorf("the in-process defaults: %v", err)
	}
}
