using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace RdpNla.Tests.Support;

/// <summary>
/// Debian's Chromium driven by Debian's chromedriver through Selenium, headless, with a fresh profile. Certificate errors
/// are ignored because the portal under test uses the front door's self-signed certificate (test only).
/// </summary>
public sealed class HeadlessChromium : IDisposable
{
    /// <summary>How long a look-up or a form's answer may take.</summary>
    private static readonly TimeSpan PageWait = TimeSpan.FromSeconds(15);

    private readonly string _profile;

    private HeadlessChromium(ChromeDriver driver, string profile)
    {
        Driver = driver;
        _profile = profile;
    }

    public ChromeDriver Driver { get; }

    public static HeadlessChromium Start()
    {
        string profile = Path.Combine(Path.GetTempPath(), "rdpnla-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments(
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--ignore-certificate-errors", "--window-size=900,1000", $"--user-data-dir={profile}");
        // The driver path is given, so Selenium Manager never looks for (or downloads) a driver.
        Peers.Require("/usr/bin/chromium", "/usr/bin/chromedriver");
        ChromeDriverService service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));

        // Element look-ups poll (bounded) for an element the page has not shown yet; Submit waits for the next page.
        driver.Manage().Timeouts().ImplicitWait = PageWait;
        return new HeadlessChromium(driver, profile);
    }

    public void Open(string url) => Driver.Navigate().GoToUrl(url);

    public void Fill(string id, string value)
    {
        IWebElement input = Driver.FindElement(By.Id(id));
        input.Clear();
        input.SendKeys(value);
    }

    /// <summary>
    /// Clicks the form's submit button and waits (bounded) until the answer replaced the page. The click can return
    /// before the browser has even started to navigate; a page that answers with the same form (the admin page's
    /// filters) has the same ids, so the implicit wait alone would let the next look-up read the page being replaced.
    /// </summary>
    public void Submit()
    {
        // A mark on the window of this page: the answer is a new document, whose window does not have it.
        Driver.ExecuteScript("window.rdpnlaSubmitted = true;");
        Driver.FindElement(By.Id("submit")).Click();
        var wait = new WebDriverWait(Driver, PageWait) { PollingInterval = TimeSpan.FromMilliseconds(25), Message = "the page was not replaced after submitting its form" };
        // While one document replaces the other, Chromium can refuse the script (no execution context yet): ask again.
        wait.IgnoreExceptionTypes(typeof(WebDriverException));
        wait.Until(driver => ((IJavaScriptExecutor)driver).ExecuteScript("return window.rdpnlaSubmitted === true;") is not true);
    }

    public string Text(string id) => Driver.FindElement(By.Id(id)).Text;

    /// <summary>Saves a PNG of the page to RDPNLA_SCREENSHOT_DIR (docs/ when regenerating them) or the temp folder.</summary>
    public string Screenshot(string name)
    {
        string directory = Environment.GetEnvironmentVariable("RDPNLA_SCREENSHOT_DIR") ?? Path.GetTempPath();
        string path = Path.Combine(directory, name);
        Driver.GetScreenshot().SaveAsFile(path);
        TestContext.Current.AddAttachment(name, path);
        return path;
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
