/// Text made safe inside XML and HTML markup (element content and quoted attribute values).
public enum MarkupText {
    /// `& < > " '` replaced by references; `'` as `&#39;`, which HTML 4, HTML 5 and XML all accept.
    public static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        // By scalar, not Character: `"` followed by a combining mark is one Character that is not `"`, and would
        // otherwise pass through and end an attribute.
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
