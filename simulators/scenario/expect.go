package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// An Expectation is one outcome a scenario expects to see through
// envmon's API once it has run.
type Expectation interface {
	// String says what is expected, in words.
	String() string
	// Check looks at the outcome. It returns what it saw, and an error
	// saying how that differs from what was expected, if it does.
	Check(ctx context.Context, env *Env) (observed string, err error)
}

// Env is what an expectation checks against.
type Env struct {
	API *Client
	// Start and End are the run's simulated start and end.
	Start, End time.Time
	// Began is the wall-clock time the run began; zero if unknown.
	Began time.Time
	// Ledger holds what every station sent.
	Ledger *Ledger
}

// At returns the simulated time at an offset from the start.
func (e *Env) At(offset time.Duration) time.Time { return e.Start.Add(offset) }

// Decoder decodes one kind of expectation from its YAML mapping (which
// still holds its kind key). c resolves scenario times and stations.
type Decoder func(c *Context, node *yaml.Node) (Expectation, error)

// Kinds maps the kind key of an expectation to its decoder.
type Kinds struct {
	m map[string]Decoder
}

// NewKinds returns the built-in kinds: stored, latest, stat, qc, status,
// aqi and alert.
func NewKinds() *Kinds {
	k := &Kinds{m: map[string]Decoder{}}
	k.m["stored"] = decodeStored
	k.m["latest"] = decodeLatest
	k.m["stat"] = decodeStat
	k.m["qc"] = decodeQC
	k.m["status"] = decodeStatus
	k.m["aqi"] = decodeAQI
	k.m["alert"] = decodeAlert
	return k
}

// Register adds a kind; it is an error if the kind is taken.
func (k *Kinds) Register(kind string, d Decoder) error {
	if _, ok := k.m[kind]; ok {
		return fmt.Errorf("expectation kind %q is already registered", kind)
	}
	k.m[kind] = d
	return nil
}

// Names returns the registered kinds, sorted.
func (k *Kinds) Names() []string {
	var out []string
	for n := range k.m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (k *Kinds) decode(c *Context, node *yaml.Node) (Expectation, error) {
	var head struct {
		Kind string `yaml:"kind"`
	}
	if err := node.Decode(&head); err != nil {
		return nil, err
	}
	d, ok := k.m[head.Kind]
	if !ok {
		return nil, fmt.Errorf("line %d: kind %q is not one of %s", node.Line, head.Kind, strings.Join(k.Names(), ", "))
	}
	x, err := d(c, node)
	if err != nil {
		return nil, fmt.Errorf("line %d (%s): %w", node.Line, head.Kind, err)
	}
	return x, nil
}

// DecodeStrict decodes node into v, which must have a field for every key
// but kind, which it may omit: a misspelt key is an error, not a silently
// ignored expectation.
func DecodeStrict(node *yaml.Node, v any) error {
	n := *node
	if n.Kind == yaml.MappingNode {
		n.Content = nil
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == "kind" {
				continue
			}
			n.Content = append(n.Content, node.Content[i], node.Content[i+1])
		}
	}
	data, err := yaml.Marshal(&n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Outcome is the outcome of one expectation.
type Outcome struct {
	Expectation Expectation
	Observed    string
	Err         error
}

// OK reports whether the expectation was met.
func (r Outcome) OK() bool { return r.Err == nil }

// Report is the outcome of every expectation of a scenario, in order.
type Report struct {
	Scenario string
	Results  []Outcome
}

// Failed counts the expectations not met.
func (r Report) Failed() int {
	n := 0
	for _, x := range r.Results {
		if !x.OK() {
			n++
		}
	}
	return n
}

// WriteTo writes the report, one line per expectation: what passed, and
// what did not happen and why.
func (r Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, x := range r.Results {
		if x.OK() {
			fmt.Fprintf(&b, "PASS  %s: %s\n", x.Expectation, x.Observed)
		} else {
			fmt.Fprintf(&b, "FAIL  %s: %v\n", x.Expectation, x.Err)
		}
	}
	fmt.Fprintf(&b, "%s: %d passed, %d failed\n", r.Scenario, len(r.Results)-r.Failed(), r.Failed())
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Verify checks every expectation of the scenario through the API at
// base. envmon stores readings a moment after they arrive, so an
// expectation not met is checked again until timeout has passed.
func (r *Result) Verify(ctx context.Context, base string, timeout time.Duration) Report {
	env := &Env{API: &Client{Base: base}, Start: r.Start, End: r.End, Began: r.Began, Ledger: r.Ledger}
	return Verify(ctx, r.Scenario.Name, r.Scenario.Expect, env, timeout)
}

// Verify checks expectations against env, checking those not met again
// every quarter second until timeout has passed.
func Verify(ctx context.Context, name string, exps []Expectation, env *Env, timeout time.Duration) Report {
	rep := Report{Scenario: name, Results: make([]Outcome, len(exps))}
	deadline := time.Now().Add(timeout)
	todo := make([]int, len(exps))
	for i := range todo {
		todo[i] = i
	}
	for {
		var again []int
		for _, i := range todo {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			obs, err := exps[i].Check(cctx, env)
			cancel()
			rep.Results[i] = Outcome{Expectation: exps[i], Observed: obs, Err: err}
			if err != nil && !errors.Is(err, errUncheckable) {
				again = append(again, i)
			}
		}
		todo = again
		if len(todo) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return rep
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// errUncheckable marks an expectation that no amount of waiting can check.
var errUncheckable = errors.New("not checkable")
