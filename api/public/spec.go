package public

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"gopkg.in/yaml.v3"
)

// specYAML is the OpenAPI 3 document of the public API (and of api's
// station routes), written as YAML and served as JSON.
//
//go:embed openapi.yaml
var specYAML []byte

// specJSON is specYAML as JSON, made once at start.
var specJSON = mustSpecJSON()

func mustSpecJSON() []byte {
	b, err := SpecJSON()
	if err != nil {
		panic(err)
	}
	return b
}

// SpecJSON returns the OpenAPI document as JSON.
func SpecJSON() ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(specYAML, &v); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	v, err := jsonable(v)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(v, "", "  ")
}

// jsonable turns yaml's maps into maps with string keys.
func jsonable(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			var err error
			if x[k], err = jsonable(e); err != nil {
				return nil, err
			}
		}
		return x, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			j, err := jsonable(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = j
		}
		return m, nil
	case []any:
		for i, e := range x {
			var err error
			if x[i], err = jsonable(e); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func serveSpec(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	serveBody(w, r, specJSON, nil, "", time.Time{}, time.Now().Add(time.Hour), time.Now(), time.Hour)
}

func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}
