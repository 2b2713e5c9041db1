package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// The bare subscriber is a plain paho client that acknowledges as it
// receives and counts the messages whose station starts with its prefix:
// the limit envmon is measured against. It runs as a process of its own,
// the bench started again with --bare-subscriber, so that it can be put
// on the CPUs envmon gets (--sut-cpus) while the publisher keeps its own.
//
// It prints "ready" once subscribed, then answers each line on its stdin
// with "messages last", last the Unix ns of the last delivery, and ends at
// the end of its stdin.
func runBare(o options, prefix string) error {
	var got, last atomic.Int64
	c := paho.NewClient(paho.NewClientOptions().AddBroker(o.broker).SetClientID(fmt.Sprintf("bench-bare-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe("envmon/+/+/+", byte(o.qos), func(_ paho.Client, m paho.Message) {
		if parts := strings.SplitN(m.Topic(), "/", 4); len(parts) == 4 && strings.HasPrefix(parts[2], prefix) {
			got.Add(1)
			last.Store(time.Now().UnixNano())
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("subscribe: %v", tok.Error())
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Println(got.Load(), last.Load())
	}
	return in.Err()
}

// bareSub is the bench's handle on a bare subscriber process.
type bareSub struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// subscribeBare starts a bare subscriber for the stations with prefix and
// returns once it is subscribed.
func subscribeBare(o options, prefix string) (*bareSub, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := o.sutCommand(self, "--bare-subscriber", prefix, "--broker", o.broker, "--qos", fmt.Sprint(o.qos))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &bareSub{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !b.out.Scan() || b.out.Text() != "ready" {
		b.close()
		return nil, fmt.Errorf("bare subscriber did not start: %q", b.out.Text())
	}
	return b, nil
}

// counts returns the messages received so far and the Unix ns of the last.
func (b *bareSub) counts() (n, last int64) {
	fmt.Fprintln(b.in)
	if b.out.Scan() {
		fmt.Sscan(b.out.Text(), &n, &last)
	}
	return n, last
}

// pid returns the subscriber's process id; 0 for none.
func (b *bareSub) pid() int {
	if b == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

func (b *bareSub) close() {
	b.in.Close()
	b.cmd.Wait()
}

// sutCommand returns the command that runs name with args on o.sutCPUs.
func (o options) sutCommand(name string, args ...string) *exec.Cmd {
	if o.sutCPUs == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", o.sutCPUs, name}, args...)...)
}
