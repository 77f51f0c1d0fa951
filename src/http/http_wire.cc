#include "http/http_wire.h"

#include <cstdio>
#include <ctime>
#include <strings.h>

namespace mlxs::http {

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace wire {
namespace {

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return strncasecmp(a.data(), b.data(), a.size()) == 0;
}

bool breaks_framing(const std::string& name, const std::string& value) {
  if (name.empty()) return true;
  if (name.find_first_of("\r\n: \t") != std::string::npos) return true;
  if (value.find_first_of("\r\n") != std::string::npos) return true;
  return equals_ignore_case(name, "Content-Length") ||
         equals_ignore_case(name, "Transfer-Encoding") ||
         equals_ignore_case(name, "Connection");
}

// RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

void append_json_string(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof(esc), "\\u%04x", c);
          out->append(esc);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string head(const HeadOptions& o) {
  std::string out;
  out.reserve(256);
  out.append("HTTP/1.1 ");
  out.append(std::to_string(o.status));
  out.push_back(' ');
  out.append(reason_phrase(o.status));
  out.append("\r\nDate: ");
  out.append(http_date());
  out.append("\r\n");
  if (!o.content_type.empty() && o.content_type.find_first_of("\r\n") == std::string_view::npos) {
    out.append("Content-Type: ");
    out.append(o.content_type);
    out.append("\r\n");
  }
  if (o.extra != nullptr) {
    for (const auto& [name, value] : *o.extra) {
      if (breaks_framing(name, value)) continue;
      if (!o.content_type.empty() && equals_ignore_case(name, "Content-Type")) continue;
      out.append(name);
      out.append(": ");
      out.append(value);
      out.append("\r\n");
    }
  }
  if (o.content_length) {
    out.append("Content-Length: ");
    out.append(std::to_string(*o.content_length));
    out.append("\r\n");
  }
  if (o.chunked) out.append("Transfer-Encoding: chunked\r\n");
  if (!o.keep_alive) {
    out.append("Connection: close\r\n");
  } else if (o.request_version < 11) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
  return out;
}

std::string chunk(std::string_view data) {
  if (data.empty()) return {};
  char size[32];
  int n = std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out;
  out.reserve(static_cast<size_t>(n) + data.size() + 2);
  out.append(size, static_cast<size_t>(n));
  out.append(data);
  out.append("\r\n");
  return out;
}

std::string_view last_chunk() { return "0\r\n\r\n"; }

std::string json_error_body(std::string_view message, std::string_view type) {
  std::string out = "{\"error\":{\"message\":";
  append_json_string(&out, message);
  out.append(",\"type\":");
  append_json_string(&out, type);
  out.append(",\"param\":null,\"code\":null}}");
  return out;
}

std::string error_response(int status, std::string_view message) {
  std::string body = json_error_body(message);
  HeadOptions o;
  o.status = status;
  o.content_type = "application/json";
  o.content_length = body.size();
  o.keep_alive = false;
  return head(o) + body;
}

void split_target(std::string_view target, std::string* path, std::string* query) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    path->assign(target);
    query->clear();
  } else {
    path->assign(target.substr(0, q));
    query->assign(target.substr(q + 1));
  }
}

}  // namespace wire
}  // namespace mlxs::http
