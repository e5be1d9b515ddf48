#Requires -RunAsAdministrator
<#
.SYNOPSIS
  Prepares IIS to publish hls-sidecar at https://<site>/hls-proxy/ with URL Rewrite + ARR (iis\web.config).

.DESCRIPTION
  Safe to run again; every step checks first. Steps:
    1. IIS itself (and Failed Request Tracing, for diagnosing rewrite rules).
    2. URL Rewrite 2.1 and Application Request Routing 3.0, from MSI files you downloaded
       (https://www.iis.net/downloads/microsoft/url-rewrite,
        https://www.iis.net/downloads/microsoft/application-request-routing).
    3. ARR as a reverse proxy: enabled; responseBufferLimit 0 so every chunk of a media segment is
       flushed to the player as it arrives; time-out; X-Forwarded-For without the client port; no
       "X-Powered-By: ARR" header. NOTE: system.webServer/proxy exists only at server level, so these
       settings apply to every ARR rule on this machine.
    4. allowedServerVariables for the site: exactly the variables web.config sets (URL Rewrite refuses
       to set any other, with HTTP 500.50).
    5. http.sys limits: proxied URLs carry the upstream URL in one path segment, longer than the default
       UrlSegmentMaxLength of 260 characters (http.sys answers 400 before IIS sees the request).
    6. With -CopyWebConfig: copies web.config into the site root when it has none.

  What to change: the parameters below; the backend address and prefix live in web.config.

.PARAMETER SiteName
  The IIS site that serves /hls-proxy (it should have the https binding).
.PARAMETER InstallerMsi
  MSI files installed in the given order when URL Rewrite or ARR is missing, for example
  -InstallerMsi .\rewrite_amd64_en-US.msi, .\requestRouter_amd64.msi
.PARAMETER ProxyTimeout
  ARR's limit for one proxied request (hh:mm:ss). Above the proxy's own upstream time-outs (15 s) and the
  longest segment download a slow viewer needs.
.PARAMETER CopyWebConfig
  Copy iis\web.config into the site's root folder if it has no web.config yet.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File iis\setup.ps1 -SiteName 'Default Web Site' `
    -InstallerMsi C:\dl\rewrite_amd64_en-US.msi, C:\dl\requestRouter_amd64.msi -CopyWebConfig
#>
[CmdletBinding()]
param(
  [string]$SiteName = 'Default Web Site',
  [string[]]$InstallerMsi = @(),
  [string]$ProxyTimeout = '00:02:00',
  [switch]$CopyWebConfig
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$appcmd = Join-Path $env:windir 'System32\inetsrv\appcmd.exe'
# Must list exactly the <set name="..."> entries of web.config (the test suite checks both files agree).
$ServerVariables = @('HTTP_X_FORWARDED_PROTO', 'HTTP_X_FORWARDED_HOST', 'HTTP_X_FORWARDED_PREFIX', 'HTTP_FORWARDED')

# appcmd with an argument array (no shell re-parsing of the '/+[name=...]' syntax); fails loudly.
# appcmd reports errors on stdout; stderr is not redirected because Windows PowerShell 5.1 turns
# redirected native stderr into a terminating error under ErrorActionPreference=Stop.
function Invoke-AppCmd([string[]]$Arguments) {
  $output = & $appcmd $Arguments
  if ($LASTEXITCODE -ne 0) { throw "appcmd $($Arguments -join ' ') failed ($LASTEXITCODE): $output" }
  return ($output -join "`n")
}

Write-Host '== 1. IIS'
if (Get-Command Install-WindowsFeature -ErrorAction SilentlyContinue) {
  # Windows Server
  Install-WindowsFeature -Name Web-Server, Web-Mgmt-Console, Web-Http-Tracing | Out-Null
} else {
  # Windows 10/11
  Enable-WindowsOptionalFeature -Online -All -NoRestart `
    -FeatureName IIS-WebServerRole, IIS-WebServer, IIS-HttpTracing, IIS-ManagementConsole | Out-Null
}
if (-not (Test-Path $appcmd)) { throw "IIS is not installed: $appcmd not found" }

Write-Host '== 2. URL Rewrite and Application Request Routing'
$rewriteDll = Join-Path $env:windir 'System32\inetsrv\rewrite.dll'
$arrDll = Join-Path $env:ProgramFiles 'IIS\Application Request Routing\requestRouter.dll'
if (-not ((Test-Path $rewriteDll) -and (Test-Path $arrDll))) {
  if ($InstallerMsi.Count -eq 0) {
    throw 'URL Rewrite and/or ARR are missing: download their MSI files (see Get-Help .\setup.ps1) and pass them with -InstallerMsi'
  }
  foreach ($msi in $InstallerMsi) {
    Write-Host "   installing $msi"
    $p = Start-Process -FilePath msiexec.exe -ArgumentList @('/i', "`"$((Resolve-Path $msi).Path)`"", '/qn', '/norestart') -Wait -PassThru
    # 3010: installed, reboot required later.
    if ($p.ExitCode -notin @(0, 3010)) { throw "msiexec $msi failed with exit code $($p.ExitCode)" }
  }
  if (-not ((Test-Path $rewriteDll) -and (Test-Path $arrDll))) { throw 'URL Rewrite or ARR still missing after installation' }
}

Write-Host '== 3. ARR reverse proxy settings (server level)'
Invoke-AppCmd @(
  'set', 'config', '-section:system.webServer/proxy',
  '/enabled:True',
  # Stream, do not buffer: 0 KB threshold = flush each chunk as it arrives from the proxy.
  '/responseBufferLimit:0',
  "/timeout:$ProxyTimeout",
  '/keepAlive:True',
  # The proxy writes public URLs itself from X-Forwarded-*; ARR must not rewrite Location headers.
  '/reverseRewriteHostInResponseHeaders:False',
  # ARR appends the client address to X-Forwarded-For; without ":port" it is a plain IP (RFC 7239 style).
  '/xForwardedForHeaderName:X-Forwarded-For',
  '/includePortInXForwardedFor:False',
  '/arrResponseHeader:False',
  '/commit:apphost'
) | Out-Null

Write-Host "== 4. allowedServerVariables for '$SiteName'"
$allowed = Invoke-AppCmd @('list', 'config', $SiteName, '-section:system.webServer/rewrite/allowedServerVariables')
foreach ($name in $ServerVariables) {
  if ($allowed -match "name=`"$name`"") {
    Write-Host "   $name already allowed"
  } else {
    Invoke-AppCmd @('set', 'config', $SiteName, '-section:system.webServer/rewrite/allowedServerVariables', "/+[name='$name']", '/commit:apphost') | Out-Null
    Write-Host "   $name allowed"
  }
}

Write-Host '== 5. http.sys limits for long proxied URLs'
$httpParams = 'HKLM:\SYSTEM\CurrentControlSet\Services\HTTP\Parameters'
# UrlSegmentMaxLength: one path segment (the token) may be up to the proxy's 8 KiB URL limit.
# MaxRequestBytes: request line + headers; the proxy accepts an 8 KiB URL plus 16 KiB of headers.
$httpLimits = [ordered]@{ UrlSegmentMaxLength = 8192; MaxRequestBytes = 32768 }
$current = Get-ItemProperty -Path $httpParams
$changed = $false
foreach ($entry in $httpLimits.GetEnumerator()) {
  $property = $current.PSObject.Properties[$entry.Key]
  if ($null -eq $property -or [int]$property.Value -lt $entry.Value) {
    New-ItemProperty -Path $httpParams -Name $entry.Key -PropertyType DWord -Value $entry.Value -Force | Out-Null
    Write-Host "   $($entry.Key) = $($entry.Value)"
    $changed = $true
  }
}
if ($changed) {
  Write-Warning 'http.sys limits changed: they take effect after "net stop http /y" then "net start w3svc" (or a reboot).'
}

if ($CopyWebConfig) {
  Write-Host "== 6. web.config for '$SiteName'"
  $physical = (Invoke-AppCmd @('list', 'vdir', "$SiteName/", '/text:physicalPath')).Trim()
  $target = Join-Path ([Environment]::ExpandEnvironmentVariables($physical)) 'web.config'
  if (Test-Path $target) {
    Write-Warning "$target exists: merge the <rewrite> and <location path=`"hls-proxy`"> parts of $PSScriptRoot\web.config into it."
  } else {
    Copy-Item -Path (Join-Path $PSScriptRoot 'web.config') -Destination $target
    Write-Host "   copied to $target"
  }
}

Write-Host '== Effective ARR proxy settings'
Invoke-AppCmd @('list', 'config', '-section:system.webServer/proxy')
Write-Host "Next: start hls-sidecar (deploy\windows\install-service.js), then: curl.exe -si https://<site>/hls-proxy/healthz"
