// search_faiss.cpp - FAISS (Debian's libfaiss-dev) on the data bench/search.c wrote, measured
// the same way, so docs/search.md compares like with like in one run (bench/search.sh).
//
//   mien-bench-search-faiss DIR PER THREADS FACTORY PARAM VALUES
//   e.g. ... /tmp/d 2 2 IVF4000,PQ64 nprobe 16,32,64     ... HNSW32,SQ8 efSearch 64,128
//
// DIR holds faces.f32 (N x 512 fp32), probes.f32 and truth.bin (the exact top-10 of each probe,
// as {int64 id, float score} records). The index is trained on 32 faces per list (or all, for
// HNSW nothing), filled with every face, and asked for RESCORE candidates that are rescored
// exactly from faces.f32 with pread, as mien's ANN does; the top 10 are compared with the truth.
// C++ only because Debian ships FAISS without its C API; it is never linked into mien.
#include <fcntl.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_factory.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr int kDim = 512, kTopK = 10, kRescore = 64;

struct Hit {
  int64_t id;
  float score;
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

long rss_bytes() {  // current, from /proc (max RSS would include the training copies)
  FILE* f = std::fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f && std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  if (f) std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

std::vector<char> slurp(const std::string& path) {
  std::vector<char> v;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return v;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) v.insert(v.end(), buf, buf + n);
  std::fclose(f);
  return v;
}

float exact_score(const float* a, const float* b) {  // as mien_index_score: double, fixed order
  double s[4] = {0, 0, 0, 0};
  for (int i = 0; i < kDim; i += 4)
    for (int j = 0; j < 4; j++) s[j] += (double)a[i + j] * b[i + j];
  return (float)((s[0] + s[1]) + (s[2] + s[3]));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s DIR PER THREADS FACTORY PARAM V1,V2,...\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1], factory = argv[4], param = argv[5];
  int per = std::atoi(argv[2]), threads = std::atoi(argv[3]);
  std::vector<int> values;
  for (char* s = argv[6]; *s; s += *s == ',') values.push_back((int)std::strtol(s, &s, 10));

  std::vector<char> pb = slurp(dir + "/probes.f32"), tb = slurp(dir + "/truth.bin");
  int fd = open((dir + "/faces.f32").c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (pb.empty() || tb.empty() || fd < 0 || fstat(fd, &st)) {
    std::fprintf(stderr, "cannot read %s\n", dir.c_str());
    return 1;
  }
  const float* probes = reinterpret_cast<const float*>(pb.data());
  const Hit* truth = reinterpret_cast<const Hit*>(tb.data());
  long queries = (long)(pb.size() / (kDim * sizeof(float)));
  long faces = (long)(st.st_size / (kDim * sizeof(float)));
  const float* all = static_cast<const float*>(
      mmap(nullptr, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0));
  if (all == MAP_FAILED) return 1;
  omp_set_num_threads(threads);

  long rss0 = rss_bytes();
  double t0 = now_ms();
  std::unique_ptr<faiss::Index> index(
      faiss::index_factory(kDim, factory.c_str(), faiss::METRIC_INNER_PRODUCT));
  auto* ivf = dynamic_cast<faiss::IndexIVF*>(index.get());
  if (ivf) {
    long n = std::min<long>(faces, (long)ivf->nlist * 32);
    std::vector<float> sample((size_t)n * kDim);
    for (long i = 0; i < n; i++)
      std::memcpy(&sample[(size_t)i * kDim], all + (size_t)((double)i * faces / n) * kDim,
                  kDim * sizeof(float));
    index->train(n, sample.data());
  } else if (!index->is_trained) {
    index->train(std::min<long>(faces, 100000), all);
  }
  double train_ms = now_ms() - t0;
  t0 = now_ms();
  for (long c = 0; c < faces; c += 65536)
    index->add(std::min<long>(65536, faces - c), all + (size_t)c * kDim);
  double add_ms = now_ms() - t0;
  munmap(const_cast<float*>(all), (size_t)st.st_size);  // its pages no longer count as RAM
  long bytes_per_face = (rss_bytes() - rss0) / faces;

  std::vector<float> lab(kRescore), buf(kDim);
  std::vector<faiss::Index::idx_t> ids(kRescore);
  std::vector<double> ms((size_t)queries);
  for (int v : values) {
    if (ivf) ivf->nprobe = (size_t)v;
    if (auto* h = dynamic_cast<faiss::IndexHNSW*>(index.get())) h->hnsw.efSearch = v;
    double p50[2], p99[2];
    long inter = 0, mates = 0, found = 0;
    for (int pass = 0; pass < 2; pass++) {
      omp_set_num_threads(pass ? threads : 1);
      for (long j = 0; j < queries; j++) {
        const float* q = probes + (size_t)j * kDim;
        double s0 = now_ms();
        index->search(1, q, kRescore, lab.data(), ids.data());
        std::vector<Hit> hits;
        for (int i = 0; i < kRescore && ids[i] >= 0; i++) {
          if (pread(fd, buf.data(), kDim * sizeof(float), (off_t)ids[i] * kDim * 4) != kDim * 4)
            continue;
          hits.push_back({ids[i], exact_score(buf.data(), q)});
        }
        std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
          return a.score != b.score ? a.score > b.score : a.id < b.id;
        });
        if (hits.size() > kTopK) hits.resize(kTopK);
        ms[(size_t)j] = now_ms() - s0;
        if (pass) continue;
        const Hit* t = truth + (size_t)j * kTopK;
        for (const Hit& h : hits)
          for (int w = 0; w < kTopK; w++) inter += h.id == t[w].id;
        long probe_identity = (long)((double)((faces + per - 1) / per) * (j + 0.5) / queries);
        if (t[0].id / per == probe_identity) {
          mates++;
          found += !hits.empty() && hits[0].id / per == probe_identity;
        }
      }
      std::sort(ms.begin(), ms.end());
      p50[pass] = ms[(size_t)std::ceil(0.5 * queries) - 1];
      p99[pass] = ms[(size_t)std::ceil(0.99 * queries) - 1];
    }
    std::printf(
        "{\"index\":\"faiss %s\",\"faces\":%ld,\"queries\":%ld,\"threads\":%d,\"%s\":%d,"
        "\"rescore\":%d,\"train_s\":%.2f,\"recall1_mates\":%.4f,\"recall10_vs_exact\":%.4f,"
        "\"p50_ms_1t\":%.3f,\"p99_ms_1t\":%.3f,\"p50_ms_all\":%.3f,\"p99_ms_all\":%.3f,"
        "\"ram_bytes_per_face\":%ld,\"build_s\":%.2f,\"inserts_per_s\":%.0f}\n",
        factory.c_str(), faces, queries, threads, param.c_str(), v, kRescore, train_ms / 1000,
        mates ? (double)found / mates : NAN, (double)inter / ((double)queries * kTopK), p50[0],
        p99[0], p50[1], p99[1], bytes_per_face, (train_ms + add_ms) / 1000,
        faces / (add_ms / 1000));
    std::fflush(stdout);
  }
  close(fd);
  return 0;
}
