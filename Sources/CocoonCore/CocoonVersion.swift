/// The tool's version, printed by `cocoon --version` and written into every manifest.
public enum CocoonVersion {
    public static let string = "0.1.0"
}
