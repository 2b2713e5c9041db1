package auth_test

import (
	"testing"

	"github.com/envmon/envmon/auth"
	"github.com/envmon/envmon/db"
	"github.com/envmon/envmon/db/dbtest"
)

func TestTokenGridScope(t *testing.T) {
	d, err := db.Open(t.Context(), dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	st, err := auth.Open(t.Context(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := st.Create(t.Context(), auth.CreateOptions{Role: auth.Supervisor, Team: "t-hexi", Grid: "河西区/市民街道/"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Verify(t.Context(), sup.Token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Grid != "河西区/市民街道" {
		t.Fatalf("grid %q", p.Grid)
	}
	officer := auth.Principal{Role: auth.Officer, Team: "t1", Grid: "河西区"}
	admin := auth.Principal{Role: auth.Admin}
	viewer := auth.Principal{Role: auth.Viewer, Team: "t1"}
	for _, tt := range []struct {
		name string
		p    auth.Principal
		grid string
		want bool
	}{
		{"village under township", p, "河西区/市民街道/灯笼社区", true},
		{"the cell itself", p, "河西区/市民街道", true},
		{"sibling township", p, "河西区/滨江街道/柳湾社区", false},
		{"name prefix is not a cell", p, "河西区/市民街道二", false},
		{"county above", p, "河西区", false},
		{"officer has no grid", officer, "河西区", false},
		{"admin sees all", admin, "东山区", true},
	} {
		if got := tt.p.SeesGrid(tt.grid); got != tt.want {
			t.Errorf("%s: SeesGrid(%q) = %v", tt.name, tt.grid, got)
		}
	}
	if !officer.SeesTeam("t1") || officer.SeesTeam("t2") || viewer.SeesTeam("t1") || !admin.SeesTeam("x") {
		t.Error("SeesTeam")
	}
}
