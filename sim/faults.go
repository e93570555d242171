package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/invsync/invsync/internal/childproc"
	"github.com/invsync/invsync/pipeline/embedded"
)

// With --faults, serve and the mirror run as child processes of this
// binary (`invsync serve`, `invsync mirror`), so a fault can be a real
// kill -9: serve is killed at 30 % and 75 % of the day, the mirror at
// 50 %, each restarted at once on its data. serve's embedded broker runs
// in a supervised process of its own, which outlives serve and is taken
// over by the restarted one.

var errNoChildren = errors.New("--faults runs serve and the mirror as child processes of this binary")

// child is one supervised child process, restartable with the same
// arguments and environment.
type child struct {
	name string
	args []string
	env  []string
	log  *os.File

	proc childproc.Process
}

func (c *child) start() error {
	cmd := exec.Command(c.args[0], c.args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = c.env, c.log, c.log
	if err := c.proc.Start(cmd); err != nil {
		return fmt.Errorf("starting %s: %w", c.name, err)
	}
	return nil
}

// stop ends the child gently (SIGTERM), and with SIGKILL if it lingers.
func (c *child) stop() {
	if !c.proc.Signal(syscall.SIGTERM, 30*time.Second) {
		c.proc.Signal(syscall.SIGKILL, 10*time.Second)
	}
}

// startChildren starts serve and the mirror as child processes and
// plans the kills.
func startChildren(ctx context.Context, cfg *Config, dir string, stderr io.Writer) (func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("%w: finding this executable: %v", errNoChildren, err)
	}
	httpPort, err1 := freePort()
	kafkaPort, err2 := freePort()
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("choosing ports: %w", err)
	}
	admin := "sim-" + randomHex(24)
	interval := reportInterval(cfg.Speed).String()
	cfg.URL, cfg.AdminToken = "http://127.0.0.1:"+strconv.Itoa(httpPort), admin
	cfg.Brokers, cfg.TopicPrefix = []string{"127.0.0.1:" + strconv.Itoa(kafkaPort)}, "invsync."
	logOf := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	serveLog, err := logOf("serve")
	if err != nil {
		return nil, err
	}
	serve := &child{name: "serve", log: serveLog, env: append(os.Environ(), "INVSYNC_ADMIN_TOKEN="+admin),
		args: []string{exe, "serve", "--data-dir", filepath.Join(dir, "serve"), "--http-addr", "127.0.0.1:" + strconv.Itoa(httpPort),
			"--embedded-kafka-addr", cfg.Brokers[0], "--rate-limit", "0", "--snapshot-interval", interval, "--log-level", "warn"}}
	if err := serve.start(); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, cfg.URL, 2*time.Minute); err != nil {
		serve.stop()
		return nil, fmt.Errorf("serve (log in %s): %w", serveLog.Name(), err)
	}
	token, err := CreateToken(ctx, cfg.URL, admin, "sim-mirror", "cloud", []string{"*"})
	if err != nil {
		serve.stop()
		return nil, fmt.Errorf("creating the mirror's token: %w", err)
	}
	mirrorLog, err := logOf("mirror")
	if err != nil {
		serve.stop()
		return nil, err
	}
	cfg.MirrorDB = filepath.Join(dir, "mirror", "mirror.db")
	mir := &child{name: "mirror", log: mirrorLog, env: append(os.Environ(), "INVSYNC_TOKEN="+token),
		args: []string{exe, "mirror", "--embedded-kafka-addr", cfg.Brokers[0], "--data-dir", filepath.Join(dir, "mirror"),
			"--url", cfg.URL, "--report-interval", interval, "--log-level", "warn"}}
	if err := mir.start(); err != nil {
		serve.stop()
		return nil, err
	}
	kill := func(c *child, ready func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			if !c.proc.Signal(syscall.SIGKILL, 30*time.Second) {
				return fmt.Errorf("%s did not die of SIGKILL within 30s", c.name)
			}
			if err := c.start(); err != nil {
				return err
			}
			if ready != nil {
				return ready(ctx)
			}
			return nil
		}
	}
	serveReady := func(ctx context.Context) error { return waitReady(ctx, cfg.URL, 2*time.Minute) }
	cfg.Faults = []Fault{
		{Name: "kill -9 serve", At: 0.30, Do: kill(serve, serveReady)},
		{Name: "kill -9 mirror", At: 0.50, Do: kill(mir, nil)},
		{Name: "kill -9 serve", At: 0.75, Do: kill(serve, serveReady)},
	}
	fmt.Fprintf(stderr, "invsync simulate: serve (pid %d) and mirror (pid %d) run as child processes; logs in %s\n",
		serve.proc.PID(), mir.proc.PID(), dir)
	return func() {
		mir.stop()
		serve.stop()
		// A serve killed with SIGKILL leaves its broker running (that is
		// the point), and one that takes over a broker and is then killed
		// hard leaves it again: stop whatever broker holds the data, as
		// `invsync broker stop` would, before the directory goes.
		if _, err := embedded.Stop(filepath.Join(dir, "serve", "kafka"), 30*time.Second); err != nil {
			fmt.Fprintf(stderr, "invsync simulate: stopping the embedded broker: %v\n", err)
		}
		serveLog.Close()
		mirrorLog.Close()
	}, nil
}

// freePort asks the OS for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until GET /readyz answers 200.
func waitReady(ctx context.Context, base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = string(body)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after %s: %s", timeout, last)
}
