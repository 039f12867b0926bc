// PcapFileSource: the mmap path against libpcap's reads of the same files
// (tests/data/*.pcap and rewritten copies: byte-swapped, nanosecond, cut,
// damaged, pcapng), packet for packet.
#include "capture-agent/pcap_source.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gourmet::capture {
namespace {

using ::testing::HasSubstr;

const std::string kData = GOURMET_TEST_DATA;

struct Packet {
  int64_t ts_us;
  uint32_t wirelen;
  std::string bytes;  // caplen bytes
  bool operator==(const Packet& o) const {
    return std::tie(ts_us, wirelen, bytes) == std::tie(o.ts_us, o.wirelen, o.bytes);
  }
};

struct ReadResult {
  bool mapped = false;
  int datalink = 0;
  std::vector<Packet> packets;
  PacketSource::Next last = PacketSource::Next::kPacket;
  std::string error;
};

PcapFileOptions Mmap(bool mmap) {
  PcapFileOptions o;
  o.mmap = mmap;
  return o;
}

ReadResult ReadAll(const std::string& path, bool mmap, const std::string& bpf = "") {
  auto src = PcapFileSource::Open(path, bpf, Mmap(mmap));
  EXPECT_TRUE(src.ok()) << src.status();
  ReadResult r;
  if (!src.ok()) return r;
  r.mapped = (*src)->mapped();
  r.datalink = (*src)->datalink();
  RawPacket raw;
  while ((r.last = (*src)->Read(&raw)) == PacketSource::Next::kPacket) {
    r.packets.push_back(
        {raw.ts_us, raw.wirelen, std::string(reinterpret_cast<const char*>(raw.data), raw.caplen)});
  }
  r.error = (*src)->error();
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string WriteFile(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

uint32_t Get32(const std::string& s, size_t at) {
  uint32_t v;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

void Put32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }

// A little-endian microsecond pcap (as in tests/data), cut into its file
// header and its records (record header + data).
struct PcapParts {
  std::string header;
  std::vector<std::string> records;

  explicit PcapParts(const std::string& file) : header(file.substr(0, 24)) {
    EXPECT_EQ(Get32(header, 0), 0xa1b2c3d4u);
    for (size_t at = 24; at < file.size();) {
      const size_t n = 16 + Get32(file, at + 8);
      records.push_back(file.substr(at, n));
      at += n;
    }
  }
  // The bytes up to record `i`.
  size_t OffsetOf(size_t i) const {
    size_t at = header.size();
    for (size_t k = 0; k < i; ++k) at += records[k].size();
    return at;
  }
  std::string Join() const {
    std::string out = header;
    for (const auto& r : records) out += r;
    return out;
  }
};

std::vector<std::string> TestPcaps() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(kData)) {
    if (e.path().extension() == ".pcap") out.push_back(e.path().string());
  }
  return out;
}

const std::string& Sample() {
  static const std::string path = kData + "/sample.pcap";
  return path;
}

TEST(PcapFileSource, MappedReadsMatchLibpcapOnEveryTestPcap) {
  const auto pcaps = TestPcaps();
  ASSERT_GE(pcaps.size(), 4u);
  for (const auto& path : pcaps) {
    SCOPED_TRACE(path);
    const ReadResult mapped = ReadAll(path, true);
    const ReadResult libpcap = ReadAll(path, false);
    EXPECT_TRUE(mapped.mapped);
    EXPECT_FALSE(libpcap.mapped);
    EXPECT_EQ(mapped.datalink, libpcap.datalink);
    EXPECT_EQ(mapped.last, PacketSource::Next::kEnd) << mapped.error;
    EXPECT_EQ(libpcap.last, PacketSource::Next::kEnd) << libpcap.error;
    EXPECT_FALSE(mapped.packets.empty());
    EXPECT_TRUE(mapped.packets == libpcap.packets);
  }
}

TEST(PcapFileSource, MappedPacketsStayValidWhileTheMappingIsHeld) {
  auto src = PcapFileSource::Open(Sample(), "");
  ASSERT_TRUE(src.ok());
  std::vector<RawPacket> kept;
  RawPacket raw;
  while ((*src)->Read(&raw) == PacketSource::Next::kPacket) kept.push_back(raw);
  EXPECT_EQ((*src)->progress(), 1.0);
  ASSERT_FALSE(kept.empty());
  ASSERT_NE(kept[0].shared, nullptr);
  // A holder of the mapping (a connection's payload) outlives the source.
  const SharedBytesRef held = *kept[0].shared;
  src->reset();
  const ReadResult libpcap = ReadAll(Sample(), false);
  ASSERT_EQ(kept.size(), libpcap.packets.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    ASSERT_GE(kept[i].data, held->data);
    ASSERT_LE(kept[i].data + kept[i].caplen, held->data + held->size);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(kept[i].data), kept[i].caplen),
              libpcap.packets[i].bytes);
  }
  auto unmapped = PcapFileSource::Open(Sample(), "", Mmap(false));
  ASSERT_TRUE(unmapped.ok());
  ASSERT_EQ((*unmapped)->Read(&raw), PacketSource::Next::kPacket);
  EXPECT_EQ(raw.shared, nullptr);  // libpcap's buffer is reused: payload must be copied
}

TEST(PcapFileSource, ByteSwappedAndNanosecondCopiesGiveTheSamePackets) {
  const ReadResult want = ReadAll(Sample(), false);
  PcapParts swapped(ReadFile(Sample()));
  PcapParts nanos = swapped;
  const auto swap32 = [](std::string& s, size_t at) {
    Put32(s, at, __builtin_bswap32(Get32(s, at)));
  };
  const auto swap16 = [](std::string& s, size_t at) { std::swap(s[at], s[at + 1]); };
  swap32(swapped.header, 0);
  swap16(swapped.header, 4);
  swap16(swapped.header, 6);
  for (size_t at = 8; at < 24; at += 4) swap32(swapped.header, at);
  for (auto& r : swapped.records) {
    for (size_t at = 0; at < 16; at += 4) swap32(r, at);
  }
  Put32(nanos.header, 0, 0xa1b23c4d);
  // The extra nanoseconds are cut, as libpcap cuts them.
  for (auto& r : nanos.records) Put32(r, 4, Get32(r, 4) * 1000 + 999);

  const std::vector<std::pair<std::string, PcapParts>> copies = {{"swapped.pcap", swapped},
                                                                 {"nanos.pcap", nanos}};
  for (const auto& [name, parts] : copies) {
    SCOPED_TRACE(name);
    const std::string path = WriteFile(name, parts.Join());
    const ReadResult mapped = ReadAll(path, true);
    EXPECT_TRUE(mapped.mapped);
    EXPECT_EQ(mapped.last, PacketSource::Next::kEnd) << mapped.error;
    EXPECT_TRUE(mapped.packets == want.packets);
    EXPECT_TRUE(ReadAll(path, false).packets == want.packets);
  }
}

TEST(PcapFileSource, TimestampsOutOfRangeReadAsLibpcapReadsThem) {
  PcapParts parts(ReadFile(Sample()));
  Put32(parts.records[0], 0, 0xf0000000);  // past 2038
  Put32(parts.records[0], 4, 0xf0000000);  // not a fraction of a second
  for (const uint32_t magic : {0xa1b2c3d4u, 0xa1b23c4du}) {
    SCOPED_TRACE(magic);
    Put32(parts.header, 0, magic);
    const std::string path = WriteFile("ts.pcap", parts.Join());
    const ReadResult mapped = ReadAll(path, true);
    EXPECT_TRUE(mapped.mapped);
    EXPECT_TRUE(mapped.packets == ReadAll(path, false).packets);
  }
}

TEST(PcapFileSource, LinkTypeFcsBitsAreMaskedAsLibpcapDoes) {
  PcapParts parts(ReadFile(Sample()));
  Put32(parts.header, 20, Get32(parts.header, 20) | 0x24000000);  // FCS of 2 16-bit words
  const std::string path = WriteFile("fcs.pcap", parts.Join());
  const ReadResult mapped = ReadAll(path, true);
  EXPECT_TRUE(mapped.mapped);
  EXPECT_EQ(mapped.datalink, DLT_EN10MB);
  EXPECT_EQ(ReadAll(path, false).datalink, DLT_EN10MB);
}

TEST(PcapFileSource, RecordsLongerThanTheSnaplenAreCutAsLibpcapCutsThem) {
  PcapParts parts(ReadFile(Sample()));
  Put32(parts.header, 16, 100);
  const std::string path = WriteFile("snaplen100.pcap", parts.Join());
  const ReadResult mapped = ReadAll(path, true);
  const ReadResult libpcap = ReadAll(path, false);
  EXPECT_TRUE(mapped.mapped);
  EXPECT_EQ(mapped.last, PacketSource::Next::kEnd) << mapped.error;
  EXPECT_EQ(mapped.packets.size(), parts.records.size());
  EXPECT_TRUE(mapped.packets == libpcap.packets);
  for (const auto& p : mapped.packets) EXPECT_LE(p.bytes.size(), 100u);
}

TEST(PcapFileSource, CutFileDeliversThePacketsBeforeTheCutThenFails) {
  const std::string file = ReadFile(Sample());
  const PcapParts parts(file);
  const ReadResult whole = ReadAll(Sample(), false);
  const size_t k = parts.records.size() / 2;
  // Inside record k's header, then inside its data.
  for (const size_t extra : {size_t{7}, size_t{16 + 10}}) {
    const std::string path = WriteFile("cut.pcap", file.substr(0, parts.OffsetOf(k) + extra));
    for (const bool mmap : {true, false}) {
      SCOPED_TRACE(::testing::Message()
                   << "cut " << extra << " bytes into a record, mmap " << mmap);
      const ReadResult r = ReadAll(path, mmap);
      EXPECT_EQ(r.mapped, mmap);
      EXPECT_EQ(r.last, PacketSource::Next::kError);
      EXPECT_THAT(r.error, HasSubstr("truncated"));
      EXPECT_THAT(r.error, HasSubstr(path));
      ASSERT_EQ(r.packets.size(), k);
      EXPECT_TRUE(std::equal(r.packets.begin(), r.packets.end(), whole.packets.begin()));
    }
  }
}

TEST(PcapFileSource, AbsurdCaptureLengthFails) {
  PcapParts parts(ReadFile(Sample()));
  const size_t k = 5;
  Put32(parts.records[k], 8, 0x7fffffff);
  const std::string path = WriteFile("caplen.pcap", parts.Join());
  for (const bool mmap : {true, false}) {
    SCOPED_TRACE(mmap);
    const ReadResult r = ReadAll(path, mmap);
    EXPECT_EQ(r.last, PacketSource::Next::kError);
    EXPECT_THAT(r.error, HasSubstr("invalid packet capture length 2147483647"));
    EXPECT_EQ(r.packets.size(), k);
  }
}

TEST(PcapFileSource, EmptyOrShortFileIsNotAPcap) {
  for (const std::string& bytes : {std::string(), ReadFile(Sample()).substr(0, 20)}) {
    const std::string path = WriteFile("short.pcap", bytes);
    for (const bool mmap : {true, false}) {
      auto src = PcapFileSource::Open(path, "", Mmap(mmap));
      ASSERT_FALSE(src.ok());
      EXPECT_THAT(src.status().message(),
                  HasSubstr("cannot read '" + path + "' as pcap or pcapng"));
    }
  }
}

TEST(PcapFileSource, BpfFilterGivesTheSamePacketsOnBothPaths) {
  const ReadResult all = ReadAll(Sample(), false);
  const ReadResult mapped = ReadAll(Sample(), true, "tcp");
  const ReadResult libpcap = ReadAll(Sample(), false, "tcp");
  EXPECT_TRUE(mapped.mapped);
  EXPECT_FALSE(mapped.packets.empty());
  EXPECT_LT(mapped.packets.size(), all.packets.size());
  EXPECT_TRUE(mapped.packets == libpcap.packets);
}

// sample.pcap rewritten as pcapng: one section, one interface, one enhanced
// packet block per packet (microsecond timestamps, the default).
std::string ToPcapng(const PcapParts& parts) {
  const auto block = [](uint32_t type, const std::string& body) {
    std::string b(8, '\0');
    b += body;
    b.resize((b.size() + 4 + 3) & ~size_t{3});
    Put32(b, 0, type);
    Put32(b, 4, b.size());
    Put32(b, b.size() - 4, b.size());
    return b;
  };
  std::string shb(16, '\0');
  Put32(shb, 0, 0x1a2b3c4d);
  Put32(shb, 4, 1);  // version 1.0
  Put32(shb, 8, 0xffffffff);
  Put32(shb, 12, 0xffffffff);  // section length unknown
  std::string idb(8, '\0');
  Put32(idb, 0, DLT_EN10MB);
  std::string out = block(0x0a0d0d0a, shb) + block(1, idb);
  for (const auto& r : parts.records) {
    const uint64_t ts = uint64_t{Get32(r, 0)} * 1000000 + Get32(r, 4);
    std::string epb(20, '\0');
    Put32(epb, 4, ts >> 32);
    Put32(epb, 8, static_cast<uint32_t>(ts));
    Put32(epb, 12, Get32(r, 8));
    Put32(epb, 16, Get32(r, 12));
    out += block(6, epb + r.substr(16));
  }
  return out;
}

TEST(PcapFileSource, PcapngStaysWithLibpcap) {
  const std::string path = WriteFile("sample.pcapng", ToPcapng(PcapParts(ReadFile(Sample()))));
  const ReadResult r = ReadAll(path, true);
  EXPECT_FALSE(r.mapped);
  EXPECT_EQ(r.last, PacketSource::Next::kEnd) << r.error;
  EXPECT_TRUE(r.packets == ReadAll(Sample(), false).packets);
}

}  // namespace
}  // namespace gourmet::capture
