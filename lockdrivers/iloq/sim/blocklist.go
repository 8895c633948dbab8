package sim

import (
	"strconv"

	"github.com/google/uuid"

	"github.com/keyward/keyward/lockdrivers/iloq/iloqapi"
)

// maxBlocklist is the 5 Series+ limit of blocked keys per access point.
const maxBlocklist = 500

func (s *Server) getBlocklist(*call) (any, *apiError) {
	out := iloqapi.GetS40BlacklistResult{BlacklistItems: []iloqapi.BlackList{}}
	for _, it := range s.st.blocklist {
		if it.removed {
			continue
		}
		k := s.st.keys[it.keyID]
		item := iloqapi.BlackList{FNKeyID: it.keyID, BlackListDateUtc: iloqapi.NewUTC(it.date),
			BlacklistVersion: strconv.Itoa(it.version), ChangeType: it.change}
		if k != nil {
			item.FNKeyID, item.KeyStamp, item.KeyTypeMask = k.FNKeyID, k.Stamp, k.KeyTypeMask
			item.Name = k.Description
			if p := s.st.persons[canon(k.PersonID)]; p != nil {
				item.PersonName = p.FirstName + " " + p.LastName
			}
		}
		out.BlacklistItems = append(out.BlacklistItems, item)
	}
	if s.st.blPacketID != "" {
		// Assumption A8: SoftDataVersion is the ordered blocklist version;
		// State 1 = ordered.
		out.BlacklistPacket = &iloqapi.BlacklistPacket{BlacklistPacketID: s.st.blPacketID,
			HardDataVersion: s.st.blOrdered, SoftDataVersion: s.st.blOrdered, State: 1}
	}
	return out, nil
}

// canBlocklist: only S50 and 5 Series keys, not already listed, and only a
// key that has access rights.
func (s *Server) canBlocklist(k *key) bool {
	if k.KeyTypeMask&(iloqapi.KeyS50|iloqapi.Key5Series) == 0 || s.blocklisted(k) {
		return false
	}
	return len(k.planned.Accesses) > 0 || len(k.programmed.Accesses) > 0
}

func (s *Server) canBlocklistKey(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	return s.canBlocklist(k), nil
}

func (s *Server) blocklistKey(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	if !s.canBlocklist(k) {
		return nil, invalid("key cannot be added to the block list")
	}
	s.st.blVersion++
	s.st.blocklist = append(s.st.blocklist, &blItem{keyID: canon(k.FNKeyID), date: s.now(),
		version: s.st.blVersion, change: iloqapi.BlocklistAdded})
	s.emitKeyEvent(iloqapi.EventKeyBlocklisted, k)
	return noContent{}, nil
}

func (s *Server) canUnblocklistKey(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	return s.blocklisted(k), nil
}

func (s *Server) unblocklistKey(c *call) (any, *apiError) {
	k, err := s.key(c.id("id"))
	if err != nil {
		return nil, err
	}
	if !s.blocklisted(k) {
		return nil, invalid("key is not in the block list")
	}
	s.st.blVersion++
	for _, it := range s.st.blocklist {
		if it.keyID == canon(k.FNKeyID) && !it.removed {
			it.removed, it.change, it.version = true, iloqapi.BlocklistRemoved, s.st.blVersion
		}
	}
	return noContent{}, nil
}

func (s *Server) canOrderBlocklistCode() int {
	active := 0
	for _, it := range s.st.blocklist {
		if !it.removed {
			active++
		}
	}
	switch {
	case s.opts.BlocklistNeedsManager:
		return iloqapi.BlocklistOrderNeedsManager
	case s.st.blVersion == s.st.blOrdered || len(s.st.blocklist) == 0:
		return iloqapi.BlocklistOrderNothing
	case active > maxBlocklist:
		return iloqapi.BlocklistOrderTooMany
	}
	return iloqapi.BlocklistOrderOK
}

func (s *Server) canOrderBlocklist(*call) (any, *apiError) {
	return s.canOrderBlocklistCode(), nil
}

// orderBlocklist builds a new blocklist packet. Phone keys pick it up on
// their next sync, fobs and keys at a hot spot; locks learn it lazily from
// any key carrying the newer version (UseKey).
func (s *Server) orderBlocklist(*call) (any, *apiError) {
	if code := s.canOrderBlocklistCode(); code != iloqapi.BlocklistOrderOK {
		return nil, invalid("block list cannot be ordered (CanOrderS40BlacklistResult %d)", code)
	}
	s.st.blOrdered = s.st.blVersion
	s.st.blPacketID = uuid.NewString()
	return noContent{}, nil
}

// blockedAt reports whether lock l refuses key k: k is on the blocklist at a
// version l already knows.
func (s *Server) blockedAt(k *key, l *lock) bool {
	for _, it := range s.st.blocklist {
		if it.keyID == canon(k.FNKeyID) && !it.removed && it.version <= l.blVersion {
			return true
		}
	}
	return false
}
