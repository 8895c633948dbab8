package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/keyward/keyward/lockdrivers/simctl"
)

// The admin API drives the physical world of a simulator running in another
// process. It lives under /sim/ next to /api/v2 on the same listener and is
// for tests and the quick start only (no authentication: loopback only).
// /sim/ serves the simctl admin endpoint (see simctl.NewHandler); the
// iLOQ-specific extras are:
//
//	POST /sim/iloq/phone-sync  {"key": id}                  → {"applied": bool}
//	POST /sim/iloq/hot-spot    {"key": id}                  → {"applied": bool}
//	POST /sim/iloq/retrieve    {"key": id}
//	POST /sim/iloq/use-key-at  {"key": id, "lock": id, "at": time} → Use
//	GET  /sim/iloq/blocklist-spread                         → {lockID: bool}
//	GET  /sim/iloq/payloads                                 → [Payload]
//	POST /sim/iloq/seed        Seed (JSON)
type adminReq struct {
	Key  string    `json:"key"`
	Lock string    `json:"lock"`
	At   time.Time `json:"at"`
}

// AdminPrefix is where the admin API is mounted.
const AdminPrefix = "/sim"

func (s *Server) adminRoutes() {
	s.mux.Handle(AdminPrefix+"/", http.StripPrefix(AdminPrefix, simctl.NewHandler(s)))
	h := func(pattern string, fn func(r adminReq) (any, error)) {
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			var req adminReq
			if r.Method == http.MethodPost {
				b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
				if err == nil && len(b) > 0 {
					err = json.Unmarshal(b, &req)
				}
				if err != nil {
					writeError(w, http.StatusBadRequest, "sim admin: "+err.Error())
					return
				}
			}
			out, err := fn(req)
			if err != nil {
				writeError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeJSON(w, http.StatusOK, out)
		})
	}
	type applied struct {
		Applied bool `json:"applied"`
	}
	h("POST /sim/iloq/phone-sync", func(r adminReq) (any, error) {
		ok, err := s.SyncPhone(r.Key)
		return applied{ok}, err
	})
	h("POST /sim/iloq/hot-spot", func(r adminReq) (any, error) {
		ok, err := s.ProgramAtHotSpot(r.Key)
		return applied{ok}, err
	})
	h("POST /sim/iloq/retrieve", func(r adminReq) (any, error) { return struct{}{}, s.RetrievePacket(r.Key) })
	h("POST /sim/iloq/use-key-at", func(r adminReq) (any, error) { return s.UseKeyAt(r.Key, r.Lock, r.At) })
	h("GET /sim/iloq/blocklist-spread", func(adminReq) (any, error) { return s.BlocklistSpread(), nil })
	h("GET /sim/iloq/payloads", func(adminReq) (any, error) { return s.Payloads(), nil })
	s.mux.HandleFunc("POST /sim/iloq/seed", func(w http.ResponseWriter, r *http.Request) {
		var sd Seed
		if err := json.NewDecoder(io.LimitReader(r.Body, 256<<20)).Decode(&sd); err != nil {
			writeError(w, http.StatusBadRequest, "sim admin: seed: "+err.Error())
			return
		}
		if err := s.Seed(sd); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, struct{}{})
	})
}
