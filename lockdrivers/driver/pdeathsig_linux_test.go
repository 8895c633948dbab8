package driver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/lockdrivers/driver"
)

const fakeHostEnv = "KEYWARD_TEST_FAKE_HOST"

// fakeHost is a stand-in host process: it starts this test binary as an
// echo driver through NewClientConfig, prints the driver's pid and waits to
// be killed.
func fakeHost() {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "fake host:", err)
		os.Exit(2)
	}
	exe, err := os.Executable()
	if err != nil {
		fail(err)
	}
	sum, err := driver.FileSHA256(exe)
	if err != nil {
		fail(err)
	}
	cfg, err := driver.NewClientConfig(driver.LaunchConfig{
		Binary: exe, SHA256: sum, Env: []string{"KEYWARD_DRIVERTEST_SERVE=1"}, Logger: hclog.NewNullLogger(),
	})
	if err != nil {
		fail(err)
	}
	c, err := driver.Dispense(plugin.NewClient(cfg))
	if err != nil {
		fail(err)
	}
	if _, err := c.Info(context.Background()); err != nil {
		fail(err)
	}
	fmt.Println("driver-pid", cfg.Cmd.Process.Pid)
	select {}
}

// TestDriverDiesWithHost kills a host with SIGKILL and checks that the
// driver it started through NewClientConfig does not survive it.
func TestDriverDiesWithHost(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	host := exec.Command(exe, "-test.run=^$")
	host.Env = append(os.Environ(), fakeHostEnv+"=1")
	host.Stderr = os.Stderr
	out, err := host.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, host.Start())
	t.Cleanup(func() { _ = host.Process.Kill(); _ = host.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err, "fake host printed no driver pid")
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "driver-pid ")))
	require.NoError(t, err, "line %q", line)
	require.NoError(t, syscall.Kill(pid, 0), "driver %d runs", pid)

	require.NoError(t, host.Process.Signal(syscall.SIGKILL))
	_ = host.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if zombieOrGone(pid) {
			return
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			assert.Fail(t, "driver survived its host", "pid %d", pid)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombieOrGone reports whether pid has exited (a zombie waiting for init to
// reap it counts as exited).
func zombieOrGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat))
	return len(fields) > 2 && fields[2] == "Z"
}
